"""Glue job entry: raw events -> curated zone (Parquet partitioned by event_date).

Arguments: see glue_jobs/README.md. Runs unchanged on EMR Serverless (see docs/emr_serverless.md).
"""
from __future__ import annotations

import sys

from pyspark.sql import functions as F

from etl_curate import REASON, curate
from etl_io import read_text
from etl_runtime import finish, parse_args, read_source, start
from etl_schema import parse_event_schema

REQUIRED = ["source_path", "target_path", "schema_path"]
OPTIONAL = {"source_format": "json", "rejected_path": "", "write_mode": "append", "JOB_NAME": ""}


def main(argv: list[str]) -> dict:
    """Run the job; returns the summary it logs."""
    args = parse_args(argv, REQUIRED, OPTIONAL)
    if args["write_mode"] not in ("append", "overwrite"):
        raise ValueError("--write_mode must be append or overwrite")
    ctx = start(args, "raw_to_curated")
    schema = parse_event_schema(read_text(args["schema_path"]))
    raw = read_source(ctx, args["source_path"], args["source_format"], "raw_events")
    result = curate(raw, schema)
    rejected = result.rejected.cache()
    reasons = {r[0]: r[1] for r in rejected.groupBy(REASON).count().collect()}
    if args["rejected_path"]:
        rejected.withColumn("reject_date", F.current_date()).write.mode("append") \
            .partitionBy("reject_date").parquet(args["rejected_path"])
    curated = result.curated.cache()
    curated.write.mode(args["write_mode"]).partitionBy("event_date").parquet(args["target_path"])
    summary = {"job": "raw_to_curated", "curated_rows": curated.count(),
               "rejected_rows": sum(reasons.values()), "rejected_by_reason": reasons}
    finish(ctx, summary)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
