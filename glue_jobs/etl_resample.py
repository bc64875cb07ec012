"""Class-imbalance handling on the train split only (pure PySpark).

Deterministic: which rows are kept or repeated depends on a hash of event_id and the seed,
not on partitioning. Validation and test keep the true class balance so that their metrics
estimate production behaviour.
"""
from __future__ import annotations

import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_split import unit_hash

METHODS = ("oversample", "undersample", "none")


def resample(train: DataFrame, *, label: str, minority_ratio: float, seed: int, method: str,
             id_col: str = "event_id") -> DataFrame:
    """Raise the share of label==1 rows in `train` to about `minority_ratio` (0 < r < 1).

    oversample: every positive is repeated floor(k) times, plus once more for a hashed
    fraction, k = r*neg / ((1-r)*pos). undersample: negatives are kept with probability
    pos*(1-r) / (r*neg). Nothing changes when the share is already >= r or method is none.
    """
    if method not in METHODS:
        raise ValueError(f"resample method must be one of {METHODS}, got {method!r}")
    if not 0 < minority_ratio < 1:
        raise ValueError(f"minority_ratio must be in (0, 1), got {minority_ratio}")
    counts = {r[0]: r[1] for r in train.groupBy(label).count().collect()}
    pos, neg = counts.get(1, 0), counts.get(0, 0)
    if method == "none" or pos == 0 or neg == 0 or pos / (pos + neg) >= minority_ratio:
        return train
    u = unit_hash(id_col, seed, salt="resample")
    is_pos = F.col(label) == 1
    if method == "undersample":
        keep = pos * (1 - minority_ratio) / (minority_ratio * neg)
        return train.filter(is_pos | (u < keep))
    k = minority_ratio * neg / ((1 - minority_ratio) * pos)
    whole, frac = math.floor(k), k - math.floor(k)
    copies = F.when(is_pos, F.lit(whole) + F.when(u < frac, 1).otherwise(0)).otherwise(1)
    repeated = train.withColumn("_copy", F.explode(F.array_repeat(F.lit(1), copies.cast("int"))))
    return repeated.drop("_copy")
