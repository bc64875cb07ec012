"""Data-quality checks of one window against the baseline, as Model Monitor defines them.

- numeric drift: the L-infinity distance between the baseline CDF (its KLL sketch) and the
  window's empirical CDF, i.e. the two-sample Kolmogorov-Smirnov statistic. `Simple` flags a
  distance above `comparison_threshold`; `Robust` also requires it to exceed the KS critical value
  at the 95% level, so a small window does not raise drift on sampling noise alone.
- categorical drift: the L-infinity distance between the two value-frequency vectors.
- completeness (missing ratio), data type (non-numeric values in a numeric feature; fractional
  values in an Integral one), `is_non_negative`, and `range_check` (ours: the share of values
  outside the baseline's [min, max]; Model Monitor has no range check).
Violations use Model Monitor's `constraint_violations.json` entries.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from monitoring.columns import Column
from monitoring.statistics import sketch_points

KS_95 = 1.358  # c(alpha) of the two-sample KS test at alpha = 0.05


@dataclass(frozen=True)
class Thresholds:
    comparison: float = 0.1
    categorical: float = 0.1
    datatype: float = 0.1
    range_share: float = 0.05
    method: str = "Simple"

    @classmethod
    def from_constraints(cls, constraints: dict, **overrides) -> "Thresholds":
        config = constraints.get("monitoring_config", {})
        dist = config.get("distribution_constraints", {})
        values = {"comparison": dist.get("comparison_threshold", cls.comparison),
                  "categorical": dist.get("categorical_comparison_threshold",
                                          dist.get("comparison_threshold", cls.categorical)),
                  "datatype": config.get("datatype_check_threshold", cls.datatype),
                  "method": dist.get("comparison_method", cls.method)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class FeatureResult:
    name: str
    kind: str
    count: int
    missing_ratio: float
    distance: float | None = None
    threshold: float | None = None
    drifted: bool = False
    violations: list = field(default_factory=list)


def numeric_distance(sketch: dict, values: np.ndarray) -> tuple[float, float]:
    """(L-infinity CDF distance, baseline weight) between a KLL sketch and `values`."""
    items, weights = sketch_points(sketch)
    current = np.sort(values[np.isfinite(values)])
    if not len(items) or not len(current):
        return 0.0, float(weights.sum())
    grid = np.union1d(items, current)
    baseline_cdf = np.concatenate(([0.0], np.cumsum(weights)))[np.searchsorted(items, grid, "right")]
    baseline_cdf /= weights.sum()
    current_cdf = np.searchsorted(current, grid, "right") / len(current)
    return float(np.abs(baseline_cdf - current_cdf).max()), float(weights.sum())


def categorical_distance(buckets: list[dict], strings: list) -> float:
    base = {b["value"]: b["count"] for b in buckets}
    present = [s for s in strings if s is not None]
    total_base, total_now = sum(base.values()) or 1.0, len(present) or 1
    now: dict = {}
    for value in present:
        now[value] = now.get(value, 0) + 1
    return max((abs(base.get(k, 0) / total_base - now.get(k, 0) / total_now) for k in set(base) | set(now)),
               default=0.0)


def _violation(name: str, check: str, description: str) -> dict:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def check_feature(stats: dict, constraint: dict, column: Column, t: Thresholds) -> FeatureResult:
    """Every data-quality check of one feature."""
    name, kind, n = column.name, stats["inferred_type"], column.count
    result = FeatureResult(name, kind, n, missing_ratio=column.missing / n if n else 0.0)
    if not n:
        return result
    completeness = 1.0 - result.missing_ratio
    if completeness < constraint.get("completeness", 0.0):
        result.violations.append(_violation(name, "completeness_check", (
            f"Data completeness {completeness:.4f} is below the baseline constraint "
            f"{constraint['completeness']:.4f}")))
    if kind == "String":
        _check_categorical(stats, constraint, column, t, result)
    else:
        _check_numeric(stats, constraint, column, t, result)
    return result


def _check_numeric(stats, constraint, column: Column, t: Thresholds, result: FeatureResult) -> None:
    name, n, num = column.name, column.count, stats.get("numerical_statistics", {})
    finite = column.values[np.isfinite(column.values)]
    wrong_type = column.non_numeric
    if stats["inferred_type"] == "Integral":
        wrong_type += int(np.count_nonzero(finite != np.round(finite)))
    if wrong_type / n > t.datatype:
        result.violations.append(_violation(name, "data_type_check", (
            f"{wrong_type / n:.2%} of values are not {stats['inferred_type']} "
            f"(datatype_check_threshold {t.datatype})")))
    if constraint.get("num_constraints", {}).get("is_non_negative") and (finite < 0).any():
        result.violations.append(_violation(name, "data_type_check", (
            f"{int((finite < 0).sum())} negative values; the baseline constraint is_non_negative is true")))
    if "min" in num and len(finite):
        outside = int(np.count_nonzero((finite < num["min"]) | (finite > num["max"])))
        if outside / n > t.range_share:
            result.violations.append(_violation(name, "range_check", (
                f"{outside / n:.2%} of values lie outside the baseline range [{num['min']:.6g}, "
                f"{num['max']:.6g}] (threshold {t.range_share:.2%})")))
    sketch = num.get("distribution", {}).get("kll", {}).get("sketch")
    if sketch is None or not len(finite):
        return
    distance, baseline_n = numeric_distance(sketch, column.values)
    result.distance, result.threshold = distance, t.comparison
    critical = KS_95 * np.sqrt((baseline_n + len(finite)) / max(baseline_n * len(finite), 1.0))
    result.drifted = distance > t.comparison and (t.method != "Robust" or distance > critical)
    if result.drifted:
        result.violations.append(_violation(name, "baseline_drift_check", (
            f"Baseline drift distance {distance:.4f} exceeds threshold {t.comparison} "
            f"(L-infinity distance between CDFs, {t.method})")))


def _check_categorical(stats, constraint, column: Column, t: Thresholds, result: FeatureResult) -> None:
    name = column.name
    buckets = stats["string_statistics"]["distribution"]["categorical"]["buckets"]
    strings = column.strings or []
    domain = constraint.get("string_constraints", {}).get("domains")
    if domain is not None:
        present, known = [s for s in strings if s is not None], set(domain)
        unknown = sum(1 for s in present if s not in known)
        if present and unknown / len(present) > t.datatype:
            result.violations.append(_violation(name, "categorical_values_check", (
                f"{unknown / len(present):.2%} of values are outside the baseline domain "
                f"(domain_content_threshold {t.datatype})")))
    distance = categorical_distance(buckets, strings)
    result.distance, result.threshold = distance, t.categorical
    result.drifted = distance > t.categorical
    if result.drifted:
        result.violations.append(_violation(name, "baseline_drift_check", (
            f"Baseline drift distance {distance:.4f} exceeds threshold {t.categorical} "
            "(L-infinity distance between category frequencies)")))
