"""`statistics.json` and `constraints.json` in SageMaker Model Monitor's data-quality schema.

Numeric features carry Model Monitor's `distribution.kll` block: 10 equal-width `buckets` and a
`sketch` in KLL form (parameters c=0.64, k=2048). Up to k values the sketch holds them all at
level 0 (exact); beyond that it holds the n/2^h evenly spaced order statistics at level h, each
weighing 2^h, which is the shape a fully compacted KLL sketch has. Drift is measured against the
CDF this sketch describes, by our monitor and by Model Monitor alike.
"""
from __future__ import annotations

import math

import numpy as np

from monitoring.columns import Column

KLL_K, KLL_C, BUCKETS, MAX_DOMAIN = 2048, 0.64, 10, 50


def kll_sketch(values: np.ndarray) -> dict:
    """The KLL-form sketch of the finite `values` (see the module docstring)."""
    ordered = np.sort(values[np.isfinite(values)])
    n = len(ordered)
    level = 0 if n <= KLL_K else math.ceil(math.log2(n / KLL_K))
    weight = 2 ** level
    if level:
        positions = np.minimum(((np.arange(n // weight) + 0.5) * weight).astype(np.int64), n - 1)
        ordered = ordered[positions]
    data: list[list[float]] = [[] for _ in range(level)] + [ordered.tolist()]
    return {"parameters": {"c": KLL_C, "k": float(KLL_K)}, "data": data}


def sketch_points(sketch: dict) -> tuple[np.ndarray, np.ndarray]:
    """(sorted items, weights) of a KLL sketch; an item at level h weighs 2^h."""
    items, weights = [], []
    for level, values in enumerate(sketch.get("data") or []):
        items.extend(values)
        weights.extend([2.0 ** level] * len(values))
    order = np.argsort(np.asarray(items, dtype=np.float64), kind="mergesort")
    return np.asarray(items, dtype=np.float64)[order], np.asarray(weights, dtype=np.float64)[order]


def _buckets(values: np.ndarray, low: float, high: float) -> list[dict]:
    if high <= low:
        return [{"lower_bound": low, "upper_bound": high, "count": float(len(values))}]
    counts, edges = np.histogram(values, bins=BUCKETS, range=(low, high))
    return [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(c)}
            for i, c in enumerate(counts)]


def feature_statistics(column: Column) -> dict:
    """One `features[]` entry: numerical_statistics, or string_statistics for a String column."""
    common = {"num_present": column.count - column.missing, "num_missing": column.missing}
    if column.strings is not None:
        present = [s for s in column.strings if s is not None]
        values, counts = np.unique(np.asarray(present, dtype=object).astype(str), return_counts=True) \
            if present else (np.array([]), np.array([]))
        return {"name": column.name, "inferred_type": "String", "string_statistics": {
            "common": common, "distinct_count": float(len(values)),
            "distribution": {"categorical": {"buckets": [
                {"value": str(v), "count": float(c)} for v, c in zip(values, counts, strict=False)]}}}}
    finite = column.values[np.isfinite(column.values)]
    integral = bool(len(finite)) and bool(np.all(finite == np.round(finite)))
    stats: dict = {"common": common}
    if len(finite):
        low, high = float(finite.min()), float(finite.max())
        stats.update(mean=float(finite.mean()), sum=float(finite.sum()), std_dev=float(finite.std()),
                     min=low, max=high, distribution={"kll": {
                         "buckets": _buckets(finite, low, high), "sketch": kll_sketch(finite)}})
    return {"name": column.name, "inferred_type": "Integral" if integral else "Fractional",
            "numerical_statistics": stats}


def build_statistics(columns: list[Column]) -> dict:
    return {"version": 0.0, "dataset": {"item_count": columns[0].count if columns else 0},
            "features": [feature_statistics(c) for c in columns]}


def build_constraints(statistics: dict, *, missing_tolerance: float, datatype_check_threshold: float,
                      comparison_threshold: float, categorical_threshold: float,
                      comparison_method: str = "Simple") -> dict:
    """Constraints suggested from baseline statistics, thresholds from configuration.

    `completeness` is the baseline's completeness less `missing_tolerance`: the constraint file
    itself carries the threshold, so Model Monitor and our monitor flag the same windows.
    """
    features = []
    for feature in statistics["features"]:
        kind = feature["inferred_type"]
        stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        common = stats.get("common", {})
        total = common.get("num_present", 0) + common.get("num_missing", 0)
        completeness = common.get("num_present", 0) / total if total else 1.0
        entry: dict = {"name": feature["name"], "inferred_type": kind,
                       "completeness": round(max(0.0, completeness - missing_tolerance), 6)}
        if kind == "String":
            buckets = stats["distribution"]["categorical"]["buckets"]
            if len(buckets) <= MAX_DOMAIN:
                entry["string_constraints"] = {"domains": [b["value"] for b in buckets]}
        elif "min" in stats:
            entry["num_constraints"] = {"is_non_negative": stats["min"] >= 0}
        entry["monitoringConfigOverrides"] = {}
        features.append(entry)
    return {"version": 0.0, "features": features, "monitoring_config": {
        "evaluate_constraints": "Enabled", "emit_metrics": "Enabled",
        "datatype_check_threshold": datatype_check_threshold, "domain_content_threshold": datatype_check_threshold,
        "distribution_constraints": {
            "perform_comparison": "Enabled", "comparison_threshold": comparison_threshold,
            "comparison_method": comparison_method, "categorical_comparison_threshold": categorical_threshold,
            "categorical_drift_method": "LInfinity"}}}
