"""Curated -> training-ready orchestration (pure PySpark): split FIRST, fit on train only,
apply to every split, resample the train split, write Parquet + label-first CSV."""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_curate import dedup_latest
from etl_encode import apply_stats
from etl_resample import resample
from etl_split import SPLITS, stratified_split
from etl_stats import FeatureSpec, fit_stats

# The one completion marker a training-channel job writes after every channel file: the training
# pipeline's EventBridge rule matches `<csv_output_path>/_SUCCESS` (one retraining per run).
COMPLETION_MARKER = "_SUCCESS"


@dataclass
class FeatureResult:
    """Encoded rows of all splits (train resampled), the stats used, and whether they were fitted."""

    features: DataFrame
    stats: dict
    fitted: bool
    unlabeled_rows: int


def build_features(curated: DataFrame, *, ratios: tuple[float, float, float], seed: int,
                   minority_ratio: float, resample_method: str, hash_buckets: int,
                   stats: dict | None = None, spec: FeatureSpec = FeatureSpec()) -> FeatureResult:
    """Split, fit (unless `stats` is given), encode every split, resample train.

    Unlabeled events cannot be trained on and are left out (their count is returned).
    Rows are deduplicated by event_id again: curated runs are incremental, so a duplicate
    can arrive in two runs, and one event in two splits would leak.
    """
    total, labelled_rows = curated.agg(F.count(F.lit(1)), F.count(spec.label)).first()
    labelled = curated.filter(F.col(spec.label).isNotNull())
    split = stratified_split(dedup_latest(labelled, spec.id_col), label=spec.label, ratios=ratios,
                             seed=seed, id_col=spec.id_col).cache()
    fitted = stats is None
    if fitted:
        stats = fit_stats(split.filter(F.col("split") == "train"), spec, hash_buckets=hash_buckets)
    encoded = apply_stats(split, stats, keep=(spec.id_col, "split"))
    train = resample(encoded.filter(F.col("split") == "train"), label=spec.label,
                     minority_ratio=minority_ratio, seed=seed, method=resample_method, id_col=spec.id_col)
    rest = encoded.filter(F.col("split") != "train")
    return FeatureResult(features=train.unionByName(rest), stats=stats, fitted=fitted,
                         unlabeled_rows=total - labelled_rows)


def write_features(result: FeatureResult, *, target_path: str, csv_output_path: str) -> dict:
    """Parquet partitioned by split under `target_path`; per split, headerless CSV with the
    label first under `csv_output_path`/{train,validation,test}/ (SageMaker built-in
    algorithm channel convention). Returns the row count per split."""
    label = result.stats["spec"]["label"]
    df = result.features.cache()
    df.write.mode("overwrite").partitionBy("split").parquet(target_path)
    for name in SPLITS:
        part = df.filter(F.col("split") == name).select(label, *result.stats["feature_columns"])
        part.write.mode("overwrite").option("header", "false").csv(f"{csv_output_path.rstrip('/')}/{name}/")
    counts = {name: 0 for name in SPLITS}
    counts.update({r[0]: r[1] for r in df.groupBy("split").count().collect()})
    df.unpersist()
    return counts
