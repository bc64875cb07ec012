"""Apply fitted feature statistics to any split (pure PySpark).

Per numeric column: missing indicator, median imputation, log1p (skewed columns), clipping
to the IQR fences, robust scaling (x - median) / IQR, all in that order and all with the
TRAIN statistics. Categoricals: one-hot with an "other" bucket, binary code of the
vocabulary index (0 = other/unseen/missing), or a one-hot of crc32(value) mod buckets
(zlib.crc32 in Python gives the same bucket at inference time).
"""
from __future__ import annotations

from itertools import chain

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from etl_stats import safe_name


def _numeric(name: str, st: dict) -> list[Column]:
    x = F.col(name).cast("double")
    filled = F.coalesce(x, F.lit(st["median"]))
    t = F.log1p(F.greatest(filled, F.lit(0.0))) if st["log1p"] else filled
    clipped = F.least(F.greatest(t, F.lit(st["lower"])), F.lit(st["upper"]))
    scaled = (clipped - F.lit(st["median_t"])) / F.lit(st["iqr_t"])
    return [scaled.alias(name), x.isNull().cast("int").alias(f"{name}__missing")]


def _onehot(name: str, vocab: list[str]) -> list[Column]:
    c = F.col(name)
    cols = [F.coalesce((c == F.lit(v)).cast("int"), F.lit(0)).alias(f"{name}__{i}_{safe_name(v)}")
            for i, v in enumerate(vocab)]
    known = c.isin(vocab) if vocab else F.lit(False)
    cols.append(F.when(known, 0).otherwise(1).alias(f"{name}__other"))
    return cols


def _binary(name: str, vocab: list[str], width: int) -> list[Column]:
    if vocab:
        mapping = F.create_map(*chain.from_iterable((F.lit(v), F.lit(i + 1)) for i, v in enumerate(vocab)))
        index = F.coalesce(mapping[F.col(name)], F.lit(0))
    else:
        index = F.lit(0)
    return [(F.floor(index / (2**b)) % 2).cast("int").alias(f"{name}__bit{b}") for b in range(width)]


def _hashed(name: str, buckets: int) -> list[Column]:
    bucket = F.pmod(F.crc32(F.col(name).cast("string")), F.lit(buckets))
    return [F.coalesce((bucket == i).cast("int"), F.lit(0)).alias(f"{name}__hash{i}") for i in range(buckets)]


def apply_stats(df: DataFrame, stats: dict, keep: tuple[str, ...] = ()) -> DataFrame:
    """`keep` columns, then the label, then stats["feature_columns"] in order."""
    spec = stats["spec"]
    features: list[Column] = []
    for name, st in stats["numeric"].items():
        features += _numeric(name, st)
    ts = F.col(spec["time_col"])
    features += [F.hour(ts).alias("event_hour"), F.dayofweek(ts).alias("event_dow")]
    for name, vocab in stats["onehot"].items():
        features += _onehot(name, vocab)
    for name, b in stats["binary"].items():
        features += _binary(name, b["vocabulary"], b["width"])
    for name, h in stats["hashed"].items():
        features += _hashed(name, h["buckets"])
    label = F.col(spec["label"]).cast("int").alias(spec["label"])
    out = df.select(*[F.col(k) for k in keep if k != spec["label"]], label, *features)
    expected = [c for c in out.columns if c not in keep and c != spec["label"]]
    if expected != stats["feature_columns"]:
        raise ValueError("encoded columns differ from the stats artifact's feature_columns")
    return out
