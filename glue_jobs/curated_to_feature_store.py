"""Glue job entry: backfill a feature group from the curated zone with PutRecord.

Idempotent by (record identifier, event time): a ledger of written pairs (Parquet, appended each
run) is read first and those pairs are skipped, so a re-run after a failure writes only what is
missing. Records Feature Store refuses, and curated rows that cannot become a record, go to
`--rejected_path` with their reason. Records still throttled after every retry are not in the
ledger; the job then fails after saving the ledger, and the next run writes just those.

Arguments: see glue_jobs/README.md.
"""
from __future__ import annotations

import json
import sys

from pyspark.sql import functions as F

from etl_feature_records import KEY_COLUMNS, REASON, plan_records
from etl_feature_writer import (
    FAILED,
    REJECTED,
    WRITTEN,
    WriterSettings,
    featurestore_client,
    write_records,
)
from etl_runtime import finish, parse_args, read_source, start

REQUIRED = ["source_path", "feature_target", "ledger_path"]
OPTIONAL = {"rejected_path": "", "max_in_flight": "8", "max_attempts": "8", "partitions": "0", "JOB_NAME": ""}


class BackfillIncomplete(RuntimeError):
    """Some records were still throttled after every retry; running the job again writes them."""


def _ledger(spark, path: str):
    try:
        return spark.read.parquet(path)
    except Exception as err:
        if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
            return None
        raise


def main(argv: list[str], client_factory=featurestore_client) -> dict:
    """Run the backfill; returns the summary it logs."""
    args = parse_args(argv, REQUIRED, OPTIONAL)
    target = json.loads(args["feature_target"])
    ctx = start(args, "curated_to_feature_store")
    curated = read_source(ctx, args["source_path"], "parquet", "curated_to_feature_store_source")
    plan = plan_records(curated, target, _ledger(ctx.spark, args["ledger_path"]))
    to_write = plan.to_write
    if int(args["partitions"]) > 0:
        to_write = to_write.repartition(int(args["partitions"]))
    settings = WriterSettings(feature_group_name=target["feature_group_name"],
                              target_stores=tuple(target.get("target_stores") or ("OnlineStore", "OfflineStore")),
                              max_in_flight=int(args["max_in_flight"]), max_attempts=int(args["max_attempts"]))
    # Checkpointed at once: a cached plan could be evicted and recomputed, which would send every
    # PutRecord again and read the ledger after this run appended to it.
    outcomes = write_records(to_write, settings, client_factory).localCheckpoint(eager=True)
    counts = {s: 0 for s in (WRITTEN, REJECTED, FAILED)}
    counts.update({r["status"]: r["count"] for r in outcomes.groupBy("status").count().collect()})
    (outcomes.filter(F.col("status") == WRITTEN).select(*KEY_COLUMNS)
     .withColumn("feature_group_name", F.lit(settings.feature_group_name))
     .write.mode("append").parquet(args["ledger_path"]))
    invalid = plan.rejected.count()
    if args["rejected_path"]:
        refused = outcomes.filter(F.col("status") == REJECTED).select(*KEY_COLUMNS, F.col("reason").alias(REASON))
        plan.rejected.write.mode("append").parquet(f"{args['rejected_path'].rstrip('/')}/invalid/")
        refused.write.mode("append").parquet(f"{args['rejected_path'].rstrip('/')}/refused/")
    summary = {"job": "curated_to_feature_store", "feature_group_name": settings.feature_group_name,
               "written": counts[WRITTEN], "refused_by_feature_store": counts[REJECTED],
               "not_written_after_retries": counts[FAILED], "invalid_rows": invalid,
               "skipped_already_written": plan.already_written,
               "put_attempts": outcomes.agg(F.sum("attempts")).first()[0] or 0}
    finish(ctx, summary)
    if counts[FAILED]:
        raise BackfillIncomplete(f"{counts[FAILED]} records were throttled past every retry; run the job "
                                 "again: the written ones are in the ledger and are skipped")
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
