"""Glue job entry: curated zone -> training-ready features (Parquet by split + label-first CSV).

Arguments: see glue_jobs/README.md. Runs unchanged on EMR Serverless (see docs/emr_serverless.md).
"""
from __future__ import annotations

import json
import sys

from etl_features import COMPLETION_MARKER, build_features, write_features
from etl_io import exists, read_text, write_text
from etl_resample import METHODS
from etl_runtime import finish, parse_args, start
from etl_split import parse_ratios
from etl_stats import dumps, loads

REQUIRED = ["source_path", "target_path", "csv_output_path", "stats_path"]
OPTIONAL = {"split_ratios": "0.7,0.15,0.15", "minority_ratio": "0.2", "resample": "oversample",
            "seed": "42", "hash_buckets": "64", "refit": "false", "JOB_NAME": ""}


def main(argv: list[str]) -> dict:
    """Run the job; returns the summary it logs."""
    args = parse_args(argv, REQUIRED, OPTIONAL)
    if args["resample"] not in METHODS:
        raise ValueError(f"--resample must be one of {METHODS}")
    ctx = start(args, "curated_to_features")
    refit = args["refit"].lower() == "true"
    # An existing artifact is applied, not refitted: inference and earlier models used it.
    stats = None if refit or not exists(args["stats_path"]) else loads(read_text(args["stats_path"]))
    curated = ctx.spark.read.parquet(args["source_path"])
    result = build_features(
        curated, ratios=parse_ratios(args["split_ratios"]), seed=int(args["seed"]),
        minority_ratio=float(args["minority_ratio"]), resample_method=args["resample"],
        hash_buckets=int(args["hash_buckets"]), stats=stats)
    if result.fitted:
        write_text(args["stats_path"], dumps(result.stats))
    counts = write_features(result, target_path=args["target_path"],
                            csv_output_path=args["csv_output_path"])
    summary = {"job": "curated_to_features", "rows_by_split": counts, "stats_fitted": result.fitted,
               "unlabeled_rows_skipped": result.unlabeled_rows,
               "feature_count": len(result.stats["feature_columns"])}
    # One completion marker per run, written after every channel file: the training pipeline's
    # EventBridge trigger matches `<csv_output_path>/_SUCCESS`, so a run starts one retraining,
    # not one per part file (Spark's own per-directory markers are switched off in etl_runtime).
    write_text(f"{args['csv_output_path'].rstrip('/')}/{COMPLETION_MARKER}", json.dumps(summary))
    finish(ctx, summary)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
