"""Glue job entry: a training set from the Feature Store's offline store, as of each label's time.

Labels (event id, customer id, event time, label) come from the curated zone; every feature comes
from the feature groups' offline stores through the point-in-time join (etl_point_in_time.py), so
no value from after a label's event time reaches training. The joined rows have the curated
zone's columns, and from there the ETL's own steps run unchanged (split, the saved stats applied
or fitted, resampling): the channels, the stats artifact and the `_SUCCESS` marker are exactly the
ones `curated_to_features` writes, so the training pipeline reads them without a change.

Arguments: see glue_jobs/README.md.
"""
from __future__ import annotations

import json
import sys

from pyspark.sql import functions as F

from etl_features import COMPLETION_MARKER, build_features, write_features
from etl_io import exists, read_text, write_text
from etl_point_in_time import STORE_COLUMNS, GroupJoin, as_of_join
from etl_runtime import finish, parse_args, read_source, start
from etl_split import parse_ratios
from etl_stats import FeatureSpec, dumps, loads

REQUIRED = ["labels_path", "feature_groups", "target_path", "csv_output_path", "stats_path"]
OPTIONAL = {"label_columns": "event_id,customer_id,event_time,is_fraud", "split_ratios": "0.7,0.15,0.15",
            "minority_ratio": "0.2", "resample": "oversample", "seed": "42", "hash_buckets": "64",
            "refit": "false", "JOB_NAME": ""}


def _offline_records(spark, group: dict):
    """The group's offline store: the Iceberg table through the Glue catalog in AWS (`table`),
    or Parquet files with the same columns (`path`) for local runs."""
    if group.get("table"):
        return spark.table(group["table"])
    return spark.read.parquet(group["path"])


def group_join(spark, group: dict) -> GroupJoin:
    """One `--feature_groups` entry as a GroupJoin. `features` is a list of names, or a mapping of
    the store's feature name to the curated column it becomes (a feature may be named apart from
    its source field; the ETL's encoders read the curated names)."""
    features = group["features"]
    columns = dict(features) if isinstance(features, dict) else {f: f for f in features}
    records = _offline_records(spark, group)
    keep = [group["record_identifier"], group["event_time_feature"], *(c for c in STORE_COLUMNS if c in records.columns)]
    records = records.select(*keep, *[F.col(name).alias(column) for name, column in columns.items()])
    return GroupJoin(records=records, record_identifier=group["record_identifier"],
                     event_time=group["event_time_feature"], join_key=group["join_key"],
                     features=tuple(columns.values()))


def main(argv: list[str]) -> dict:
    """Run the job; returns the summary it logs."""
    args = parse_args(argv, REQUIRED, OPTIONAL)
    ctx = start(args, "feature_store_to_training")
    spec = FeatureSpec()
    labels = (read_source(ctx, args["labels_path"], "parquet", "feature_store_to_training_labels")
              .select(*args["label_columns"].split(",")).filter(F.col(spec.label).isNotNull()))
    groups = [group_join(ctx.spark, g) for g in json.loads(args["feature_groups"])]
    joined = as_of_join(labels, label_time=spec.time_col, groups=groups)
    refit = args["refit"].lower() == "true"
    stats = None if refit or not exists(args["stats_path"]) else loads(read_text(args["stats_path"]))
    result = build_features(joined, ratios=parse_ratios(args["split_ratios"]), seed=int(args["seed"]),
                            minority_ratio=float(args["minority_ratio"]), resample_method=args["resample"],
                            hash_buckets=int(args["hash_buckets"]), stats=stats, spec=spec)
    if result.fitted:
        write_text(args["stats_path"], dumps(result.stats))
    counts = write_features(result, target_path=args["target_path"], csv_output_path=args["csv_output_path"])
    summary = {"job": "feature_store_to_training", "rows_by_split": counts, "stats_fitted": result.fitted,
               "feature_groups": [g.get("table") or g.get("path") for g in json.loads(args["feature_groups"])],
               "feature_count": len(result.stats["feature_columns"])}
    write_text(f"{args['csv_output_path'].rstrip('/')}/{COMPLETION_MARKER}", json.dumps(summary))
    finish(ctx, summary)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
