"""Where the entry scripts meet the platform: AWS Glue when `awsglue` is importable, plain
Spark (EMR Serverless, spark-submit, tests) otherwise. Only this module and the two entry
scripts know about Glue; the transforms never do.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession


@dataclass
class JobContext:
    """The SparkSession and, under Glue, the GlueContext and Job (for bookmarks)."""

    spark: SparkSession
    glue_context: Any = None
    job: Any = None


def parse_args(argv: list[str], required: list[str], optional: dict[str, str]) -> dict[str, str]:
    """`--name value` arguments, as Glue passes them and spark-submit can; unknown ones
    (Glue's own --JOB_ID, --TempDir, --job-bookmark-option...) are ignored."""
    parser = argparse.ArgumentParser(allow_abbrev=False)
    for name in required:
        parser.add_argument(f"--{name}", required=True)
    for name, default in optional.items():
        parser.add_argument(f"--{name}", default=default)
    known, _ = parser.parse_known_args(argv)
    return vars(known)


def start(args: dict[str, str], app_name: str) -> JobContext:
    """Start the job: Glue's Job.init (bookmarks) when running in Glue, else a SparkSession."""
    try:
        from awsglue.context import GlueContext
        from awsglue.job import Job
    except ImportError:
        spark = SparkSession.builder.appName(app_name).getOrCreate()
        _configure(spark)
        return JobContext(spark=spark)
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    _configure(spark)
    job = Job(glue_context)
    job.init(args.get("JOB_NAME") or app_name, args)
    return JobContext(spark=spark, glue_context=glue_context, job=job)


def _configure(spark: SparkSession) -> None:
    # event_date and timestamps are UTC; no _SUCCESS marker files among the CSV channel files.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    try:
        spark.sparkContext._jsc.hadoopConfiguration().set(
            "mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    except Exception:  # noqa: BLE001 - no JVM handle (Spark Connect): markers are harmless there
        pass


def read_source(ctx: JobContext, path: str, fmt: str, transformation_ctx: str) -> DataFrame:
    """Read JSON or Parquet files under `path`. Under Glue through a DynamicFrame with a
    transformation_ctx, so job bookmarks make each run read only new files."""
    if fmt not in ("json", "parquet"):
        raise ValueError(f"source format must be json or parquet, got {fmt!r}")
    if ctx.glue_context is not None:
        frame = ctx.glue_context.create_dynamic_frame.from_options(
            connection_type="s3", connection_options={"paths": [path], "recurse": True},
            format=fmt, transformation_ctx=transformation_ctx)
        return frame.toDF()
    reader = ctx.spark.read.option("recursiveFileLookup", "true")
    if fmt == "json":
        # Strings for every primitive: etl_curate types them with counted rejections.
        return reader.option("primitivesAsString", "true").json(path)
    return reader.parquet(path)


def finish(ctx: JobContext, summary: dict) -> None:
    """Log the run summary as one JSON line and commit the Glue bookmark."""
    sys.stdout.write(json.dumps({"event": "job_summary", **summary}, default=str) + "\n")
    if ctx.job is not None:
        ctx.job.commit()
