"""Reproducible stratified train/validation/test split (pure PySpark).

Each row gets a uniform number u in [0, 1) from SHA-256(seed:event_id): the same event lands
in the same split on every run and every cluster layout (Spark's rand() depends on the
partitioning, so it is not reproducible across clusters). Per label, the cut points are the
u-quantiles at the requested proportions, so every split has the overall positive rate.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

SPLITS = ("train", "validation", "test")


def unit_hash(id_col: str, seed: int, salt: str = "split") -> Column:
    """u in [0, 1): first 52 bits of SHA-256("salt:seed:id"); Python's hashlib gives the same."""
    digest = F.sha2(F.concat_ws(":", F.lit(salt), F.lit(str(seed)), F.col(id_col).cast("string")), 256)
    return F.conv(F.substring(digest, 1, 13), 16, 10).cast("bigint").cast("double") / float(2**52)


def parse_ratios(text: str) -> tuple[float, float, float]:
    """"0.7,0.15,0.15" -> (0.7, 0.15, 0.15); three positive numbers summing to 1."""
    parts = tuple(float(p) for p in str(text).split(","))
    if len(parts) != 3 or min(parts) <= 0 or abs(sum(parts) - 1.0) > 1e-6:
        raise ValueError(f"split ratios must be three positive numbers summing to 1, got {text!r}")
    return parts


def stratified_split(df: DataFrame, *, label: str, ratios: tuple[float, float, float], seed: int,
                     id_col: str = "event_id", relative_error: float = 1e-4) -> DataFrame:
    """`df` plus a `split` column (train/validation/test), stratified by `label`.

    Cut points are approximate quantiles of u per label (one aggregation pass, scalable);
    with `relative_error` 1e-4 a split's size is off by at most 0.01% of the label's rows.
    """
    with_u = df.withColumn("_u", unit_hash(id_col, seed))
    first, second = ratios[0], ratios[0] + ratios[1]
    accuracy = max(1, int(round(1 / relative_error)))
    # One pass for every label: the u-quantiles at the two cut points.
    cuts = with_u.groupBy(label).agg(F.percentile_approx("_u", [first, second], accuracy).alias("c")).collect()
    expr_train, expr_val = F.lit(None), F.lit(None)
    for row in sorted(cuts, key=lambda r: (r[label] is None, r[label])):
        value, (cut1, cut2) = row[label], row["c"]
        expr_train = F.when(F.col(label) == value, F.lit(cut1)).otherwise(expr_train)
        expr_val = F.when(F.col(label) == value, F.lit(cut2)).otherwise(expr_val)
    split = (F.when(F.col("_u") < expr_train, "train")
             .when(F.col("_u") < expr_val, "validation").otherwise("test"))
    return with_u.withColumn("split", split).drop("_u")
