"""Fit the feature statistics on the TRAIN split (pure PySpark) and (de)serialise them.

The stats JSON is the whole contract of the transform: numeric medians/quantiles/fences,
category vocabularies, hash width and the output column order. Inference code and later
runs apply it without refitting (see etl_encode.apply_stats).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

STATS_VERSION = 1


@dataclass(frozen=True)
class FeatureSpec:
    """Which curated column gets which treatment. Defaults fit the card-transaction schema."""

    label: str = "is_fraud"
    id_col: str = "event_id"
    numeric: tuple[str, ...] = ("amount", "account_age_days", "num_prev_transactions")
    log1p: tuple[str, ...] = ("amount", "num_prev_transactions")
    onehot: tuple[str, ...] = ("channel", "device_type")
    binary: tuple[str, ...] = ("merchant_category", "country")
    hashed: tuple[str, ...] = ("merchant_id",)
    time_col: str = "event_time"
    max_onehot: int = 10
    min_category_count: int = 5
    iqr_k: float = 1.5
    quantile_accuracy: int = 100_000


def fit_stats(train: DataFrame, spec: FeatureSpec, *, hash_buckets: int) -> dict:
    """Fit imputation, outlier and encoding statistics on `train` (observed values only)."""
    if hash_buckets < 2:
        raise ValueError("hash_buckets must be >= 2")
    numeric, rows = _fit_numeric(train, spec)
    onehot = {c: _vocabulary(train, c, spec.min_category_count)[: spec.max_onehot] for c in spec.onehot}
    binary = {}
    for c in spec.binary:
        vocab = _vocabulary(train, c, spec.min_category_count)
        binary[c] = {"vocabulary": vocab, "width": max(1, len(vocab).bit_length())}
    stats = {
        "version": STATS_VERSION,
        "spec": json.loads(json.dumps(asdict(spec))),  # JSON-native (lists), as when reloaded
        "numeric": numeric,
        "onehot": onehot,
        "binary": binary,
        "hashed": {c: {"buckets": hash_buckets, "hash": "crc32(utf8) mod buckets"} for c in spec.hashed},
        "fit_rows": rows,
    }
    stats["feature_columns"] = feature_columns(stats)
    return stats


def _fit_numeric(train: DataFrame, spec: FeatureSpec) -> tuple[dict, int]:
    aggs = [F.percentile_approx(F.col(c).cast("double"), [0.25, 0.5, 0.75], spec.quantile_accuracy).alias(c)
            for c in spec.numeric]
    row = train.agg(F.count(F.lit(1)).alias("_rows"), *aggs).first()
    out = {}
    for c in spec.numeric:
        q = row[c] or [0.0, 0.0, 0.0]  # a column with no observed value imputes 0
        use_log = c in spec.log1p
        # percentile_approx returns observed values and log1p is monotone, so the quantiles
        # of the transformed column are the transformed quantiles: one pass fits both.
        t = [math.log1p(max(v, 0.0)) if use_log else float(v) for v in q]
        iqr = t[2] - t[0]
        # A zero IQR (e.g. mostly-zero counts) would divide by zero and clip everything.
        iqr = iqr if iqr > 0 else 1.0
        out[c] = {
            "median": float(q[1]), "log1p": use_log,
            "q1_t": t[0], "median_t": t[1], "q3_t": t[2], "iqr_t": iqr,
            "lower": t[0] - spec.iqr_k * iqr, "upper": t[2] + spec.iqr_k * iqr,
        }
    return out, row["_rows"]


def _vocabulary(train: DataFrame, col: str, min_count: int) -> list[str]:
    # Frequency order, then value: deterministic. Rarer values fall into "other" (index 0).
    rows = (train.filter(F.col(col).isNotNull()).groupBy(col).count()
            .filter(F.col("count") >= min_count).orderBy(F.desc("count"), F.asc(col)).collect())
    return [r[0] for r in rows]


def safe_name(value: str) -> str:
    """A category value as a Parquet-safe column-name fragment."""
    return re.sub(r"[^0-9A-Za-z]+", "_", str(value)).strip("_").lower() or "blank"


def feature_columns(stats: dict) -> list[str]:
    """Output feature columns in their fixed order (the CSV column order after the label)."""
    cols = []
    for c in stats["numeric"]:
        cols += [c, f"{c}__missing"]
    cols += ["event_hour", "event_dow"]
    for c, vocab in stats["onehot"].items():
        cols += [f"{c}__{i}_{safe_name(v)}" for i, v in enumerate(vocab)] + [f"{c}__other"]
    for c, b in stats["binary"].items():
        cols += [f"{c}__bit{i}" for i in range(b["width"])]
    for c, h in stats["hashed"].items():
        cols += [f"{c}__hash{i}" for i in range(h["buckets"])]
    return cols


def dumps(stats: dict) -> str:
    """Stable JSON text of the stats (sorted keys inside entries, fixed column order)."""
    return json.dumps(stats, indent=2, sort_keys=False)


def loads(text: str) -> dict:
    """Parse a stats artifact and check its version and column order are consistent."""
    stats = json.loads(text)
    if stats.get("version") != STATS_VERSION:
        raise ValueError(f"stats version {stats.get('version')} is not {STATS_VERSION}")
    if stats["feature_columns"] != feature_columns(stats):
        raise ValueError("stats feature_columns do not match its vocabularies and hash widths")
    return stats


def spec_from_stats(stats: dict) -> FeatureSpec:
    """The FeatureSpec a stats artifact was fitted with."""
    raw = stats["spec"]
    return FeatureSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
