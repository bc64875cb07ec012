"""Typed hyperparameters: SageMaker passes every value as a string, so each name has a type here.

Names follow the SageMaker built-in XGBoost algorithm (`num_round`, `eta`, `alpha`, `lambda`, ...),
so a tuning job or pipeline written for the built-in algorithm runs unchanged. An unknown name is
an error, not a silent no-op: a typo such as `max_dept` would otherwise train the wrong model.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from sm_contract import TrainingError


@dataclass(frozen=True)
class Spec:
    kind: type
    default: Any = None
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    booster: bool = True  # passed on to xgboost's params (False: used by this script only)


def _range(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    def check(v):
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return False
        return hi is None or v <= hi
    return check


def _one_of(*values: str):
    return lambda v: v in values


OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge", "reg:squarederror", "reg:squaredlogerror",
    "reg:logistic", "reg:pseudohubererror", "reg:absoluteerror", "reg:gamma", "reg:tweedie",
    "count:poisson", "multi:softmax", "multi:softprob", "rank:ndcg", "rank:pairwise", "rank:map",
)

SCHEMA: dict[str, Spec] = {
    "num_round": Spec(int, 100, _range(1), ">= 1", booster=False),
    "early_stopping_rounds": Spec(int, None, _range(1), ">= 1", booster=False),
    "checkpoint_frequency": Spec(int, 10, _range(1), ">= 1", booster=False),
    "content_type": Spec(str, None, booster=False),
    # Memory for keeping parsed float32 rows between QuantileDMatrix passes (default: half of free RAM);
    # 0 streams the files again on every pass (data larger than memory).
    "data_cache_mb": Spec(int, None, _range(0), ">= 0", booster=False),
    # < 1: quantile cuts from this fraction of the training rows (single host, data in the cache);
    # 1 = the exact sketch over all rows. Trades a little cut precision for ~15% less load time.
    "sketch_sample_ratio": Spec(float, 1.0, _range(0, 1, lo_open=True), "in (0, 1]", booster=False),
    "csv_weights": Spec(int, 0, _one_of(0, 1), "0 or 1", booster=False),
    "objective": Spec(str, "reg:squarederror", _one_of(*OBJECTIVES), f"one of {', '.join(OBJECTIVES)}"),
    "eval_metric": Spec(list, None),
    "num_class": Spec(int, None, _range(2), ">= 2"),
    "eta": Spec(float, 0.3, _range(0, 1), "in [0, 1]"),
    "gamma": Spec(float, 0.0, _range(0), ">= 0"),
    "max_depth": Spec(int, 6, _range(0), ">= 0"),
    "min_child_weight": Spec(float, 1.0, _range(0), ">= 0"),
    "max_delta_step": Spec(float, 0.0, _range(0), ">= 0"),
    "subsample": Spec(float, 1.0, _range(0, 1, lo_open=True), "in (0, 1]"),
    "sampling_method": Spec(str, None, _one_of("uniform", "gradient_based"), "uniform or gradient_based"),
    "colsample_bytree": Spec(float, 1.0, _range(0, 1, lo_open=True), "in (0, 1]"),
    "colsample_bylevel": Spec(float, 1.0, _range(0, 1, lo_open=True), "in (0, 1]"),
    "colsample_bynode": Spec(float, 1.0, _range(0, 1, lo_open=True), "in (0, 1]"),
    "lambda": Spec(float, 1.0, _range(0), ">= 0"),
    "alpha": Spec(float, 0.0, _range(0), ">= 0"),
    # QuantileDMatrix trains with hist only; the built-in algorithm's `auto` and legacy `gpu_hist`
    # names are accepted and mapped (gpu_hist -> hist on device cuda).
    "tree_method": Spec(str, "hist", _one_of("hist", "auto", "gpu_hist"), "hist (auto and gpu_hist map to it)"),
    "device": Spec(str, None, _one_of("cpu", "cuda", "gpu"), "cpu, cuda or gpu"),
    "max_bin": Spec(int, 256, _range(2), ">= 2"),
    "grow_policy": Spec(str, None, _one_of("depthwise", "lossguide"), "depthwise or lossguide"),
    "max_leaves": Spec(int, None, _range(0), ">= 0"),
    "scale_pos_weight": Spec(float, None, _range(0, lo_open=True), "> 0"),
    "base_score": Spec(float, None),
    "tweedie_variance_power": Spec(float, None, _range(1, 2), "in [1, 2]"),
    "huber_slope": Spec(float, None, _range(0, lo_open=True), "> 0"),
    "seed": Spec(int, 0),
    "nthread": Spec(int, None, _range(1), ">= 1"),
    "verbosity": Spec(int, 1, _range(0, 3), "in [0, 3]"),
}


def _decode(raw: Any) -> Any:
    """Undo script mode's JSON encoding (`"\\"binary:logistic\\""`, `"6"`); plain strings pass through."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, ValueError):
            return raw
    return raw


def _coerce(name: str, spec: Spec, raw: Any) -> Any:
    value = _decode(raw)
    try:
        if spec.kind is list:
            items = value if isinstance(value, list) else str(value).split(",")
            return [str(item).strip() for item in items if str(item).strip()]
        if spec.kind is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if spec.kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise TrainingError(
            f"hyperparameter {name}={raw!r} is not a valid {spec.kind.__name__}"
        ) from None


def parse(raw: dict) -> dict:
    """Type and check raw hyperparameters; fill defaults. Raises TrainingError on any bad or unknown one."""
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise TrainingError(f"unknown hyperparameter(s): {', '.join(unknown)}")
    typed = {name: spec.default for name, spec in SCHEMA.items()}
    for name, value in raw.items():
        spec = SCHEMA[name]
        typed[name] = _coerce(name, spec, value)
        if spec.check is not None and not spec.check(typed[name]):
            raise TrainingError(f"hyperparameter {name}={typed[name]!r} must be {spec.rule}")
    if typed["objective"].startswith("multi:") and typed["num_class"] is None:
        raise TrainingError(f"hyperparameter num_class is required for objective {typed['objective']}")
    return typed


def booster_params(typed: dict) -> dict:
    """The subset xgboost's `train` takes as params (unset optional ones left out)."""
    params = {
        name: value for name, value in typed.items()
        if SCHEMA[name].booster and value is not None
    }
    if not params.get("eval_metric"):
        params.pop("eval_metric", None)
    if params.get("tree_method") == "gpu_hist":
        params.setdefault("device", "cuda")
    params["tree_method"] = "hist"
    return params
