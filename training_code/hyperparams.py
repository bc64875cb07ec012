"""Typed hyperparameters: every name the SageMaker built-in XGBoost algorithm accepts, with its ranges.

Values arrive as raw strings (built-in and bring-your-own-container jobs: `multi:softmax`, `10`) or
JSON-encoded (script mode: `"\\"multi:softmax\\""`, `"10"`): both are read. The aliases
`learning_rate`, `min_split_loss`, `reg_lambda`, `reg_alpha` name `eta`, `gamma`, `lambda`, `alpha`.
An unknown name is an error, not a silent no-op: a typo such as `max_dept` would otherwise train the
wrong model. Names the built-in accepts but xgboost 3.2 no longer reads (`sketch_eps`, `predictor`,
...) are accepted with a warning and not passed on. Cross-field rules live in hyperparam_rules.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

import hyperparam_rules
from sm_contract import TrainingError


@dataclass(frozen=True)
class Spec:
    kind: type
    default: Any = None
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    booster: bool = True  # passed on to xgboost's params (False: used by this script only)


def _range(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    def check(v):
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return False
        return hi is None or v < hi or (not hi_open and v == hi)
    return check


def _one_of(*values):
    return lambda v: v in values


def _choice(*values: str) -> Spec:
    return Spec(str, None, _one_of(*values), " or ".join(values) if len(values) < 3 else f"one of {', '.join(values)}")


def _bool_text() -> Spec:
    # The built-in's "true"/"false" strings (JSON true/false decode to the same).
    return Spec(str, None, _one_of("true", "false"), '"true" or "false"', booster=False)


OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge", "reg:squarederror", "reg:linear",
    "reg:squaredlogerror", "reg:logistic", "reg:pseudohubererror", "reg:absoluteerror", "reg:gamma",
    "reg:tweedie", "count:poisson", "multi:softmax", "multi:softprob", "rank:ndcg", "rank:pairwise",
    "rank:map", "survival:cox", "survival:aft",
)
UNIT = dict(check=_range(0, 1), rule="in [0, 1]")
UNIT_OPEN_LOW = dict(check=_range(0, 1, lo_open=True), rule="in (0, 1]")
NON_NEGATIVE = dict(check=_range(0), rule=">= 0")

SCHEMA: dict[str, Spec] = {
    # --- of this script (not xgboost's) ---
    "num_round": Spec(int, 100, _range(1), ">= 1", booster=False),
    "early_stopping_rounds": Spec(int, None, _range(1), ">= 1", booster=False),
    "checkpoint_frequency": Spec(int, 10, _range(1), ">= 1", booster=False),
    "content_type": Spec(str, None, booster=False),
    # Memory for keeping parsed float32 rows between QuantileDMatrix passes (default: half of free RAM);
    # 0 streams the files again on every pass (data larger than memory).
    "data_cache_mb": Spec(int, None, _range(0), ">= 0", booster=False),
    # < 1: quantile cuts from this fraction of the training rows (single host, data in the cache).
    "sketch_sample_ratio": Spec(float, 1.0, _range(0, 1, lo_open=True), "in (0, 1]", booster=False),
    "csv_weights": Spec(int, 0, _one_of(0, 1), "0 or 1", booster=False),
    "save_model_on_termination": _bool_text(),
    "_tuning_objective_metric": Spec(str, None, booster=False),
    "_kfold": Spec(int, None, _range(2), ">= 2", booster=False),
    "_num_cv_round": Spec(int, 1, _range(1), ">= 1", booster=False),
    "use_dask_gpu_training": _bool_text(),
    # --- xgboost's, as the built-in names them ---
    "booster": _choice("gbtree", "gblinear", "dart"),
    "objective": Spec(str, "reg:squarederror", _one_of(*OBJECTIVES), f"one of {', '.join(OBJECTIVES)}"),
    "eval_metric": Spec(list, None),
    "num_class": Spec(int, None, _range(2), ">= 2"),
    "eta": Spec(float, 0.3, **UNIT),
    "gamma": Spec(float, 0.0, **NON_NEGATIVE),
    "max_depth": Spec(int, 6, **NON_NEGATIVE),
    "min_child_weight": Spec(float, 1.0, **NON_NEGATIVE),
    "max_delta_step": Spec(float, 0.0, **NON_NEGATIVE),
    "subsample": Spec(float, 1.0, **UNIT_OPEN_LOW),
    "sampling_method": _choice("uniform", "gradient_based"),
    "colsample_bytree": Spec(float, 1.0, **UNIT_OPEN_LOW),
    "colsample_bylevel": Spec(float, 1.0, **UNIT_OPEN_LOW),
    "colsample_bynode": Spec(float, 1.0, **UNIT_OPEN_LOW),
    "lambda": Spec(float, 1.0, **NON_NEGATIVE),
    "alpha": Spec(float, 0.0, **NON_NEGATIVE),
    "tree_method": _choice("auto", "exact", "approx", "hist", "gpu_hist"),
    "device": _choice("cpu", "cuda", "gpu"),
    "max_bin": Spec(int, 256, _range(2), ">= 2"),
    "grow_policy": _choice("depthwise", "lossguide"),
    "max_leaves": Spec(int, None, **NON_NEGATIVE),
    "scale_pos_weight": Spec(float, None, _range(0, lo_open=True), "> 0"),
    "base_score": Spec(float, None),
    "tweedie_variance_power": Spec(float, None, _range(1, 2, lo_open=True, hi_open=True), "in (1, 2)"),
    "huber_slope": Spec(float, None, _range(0, lo_open=True), "> 0"),
    "aft_loss_distribution": _choice("normal", "logistic", "extreme"),
    "aft_loss_distribution_scale": Spec(float, None, _range(0, lo_open=True), "> 0"),
    "max_cat_to_onehot": Spec(int, None, _range(1), ">= 1"),
    "num_parallel_tree": Spec(int, None, _range(1), ">= 1"),
    "monotone_constraints": Spec(str, None, hyperparam_rules.is_monotone, "a tuple of -1, 0, 1 such as (1,0,-1)"),
    "interaction_constraints": Spec(str, None, hyperparam_rules.is_interaction,
                                    "a nested list of feature indexes such as [[0,1],[2,3,4]]"),
    "updater": Spec(list, None),
    "refresh_leaf": Spec(int, None, _one_of(0, 1), "0 or 1"),
    "process_type": _choice("default", "update"),
    # dart
    "sample_type": _choice("uniform", "weighted"),
    "normalize_type": _choice("tree", "forest"),
    "rate_drop": Spec(float, None, **UNIT),
    "one_drop": Spec(int, None, _one_of(0, 1), "0 or 1"),
    "skip_drop": Spec(float, None, **UNIT),
    "seed": Spec(int, 0, _range(-2 ** 31, 2 ** 31 - 1, lo_open=True, hi_open=True), "a 32-bit integer"),
    "nthread": Spec(int, None, _range(1), ">= 1"),
    "verbosity": Spec(int, 1, _range(0, 3), "in [0, 3]"),
    # Accepted as the built-in accepts them; xgboost 3.2 no longer reads them (see IGNORED).
    "silent": Spec(int, None, _one_of(0, 1), "0 or 1", booster=False),
    "sketch_eps": Spec(float, None, _range(0, 1, lo_open=True, hi_open=True), "in (0, 1)", booster=False),
    "predictor": Spec(str, None, _one_of("auto", "cpu_predictor", "gpu_predictor"),
                      "auto, cpu_predictor or gpu_predictor", booster=False),
    "dsplit": Spec(str, None, _one_of("row", "col"), "row or col", booster=False),
    "lambda_bias": Spec(float, None, _range(0, 1), "in [0, 1]", booster=False),
    "single_precision_histogram": _bool_text(),
    "deterministic_histogram": _bool_text(),
}
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}
IGNORED = {
    "silent": "use verbosity", "sketch_eps": "approx uses max_bin", "predictor": "prediction picks its own",
    "dsplit": "rows are always split", "lambda_bias": "removed from gblinear",
    "single_precision_histogram": "histograms are float32 on GPU", "deterministic_histogram": "always deterministic",
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
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)
    except (TypeError, ValueError, OverflowError):
        raise TrainingError(
            f"hyperparameter {name}={raw!r} is not a valid {spec.kind.__name__}"
        ) from None


def parse(raw: dict) -> dict:
    """Type and check raw hyperparameters; fill defaults. Raises TrainingError on any bad or unknown one."""
    named = {}
    for key, value in raw.items():
        canonical = ALIASES.get(key, key)
        if canonical in named:
            raise TrainingError(f"hyperparameters {key} and {canonical} are the same setting: give one")
        named[canonical] = value
    unknown = sorted(set(named) - set(SCHEMA))
    if unknown:
        raise TrainingError(f"unknown hyperparameter(s): {', '.join(unknown)}")
    typed = {name: spec.default for name, spec in SCHEMA.items()}
    for name, value in named.items():
        spec = SCHEMA[name]
        typed[name] = _coerce(name, spec, value)
        if spec.check is not None and not spec.check(typed[name]):
            raise TrainingError(f"hyperparameter {name}={typed[name]!r} must be {spec.rule}")
        if name in IGNORED:
            print(f"hyperparameter {name} is accepted as the built-in algorithm accepts it, but xgboost 3.2 "
                  f"no longer reads it ({IGNORED[name]})", file=sys.stderr)
    if typed["objective"] == "reg:linear":
        typed["objective"] = "reg:squarederror"  # xgboost's own name for it since 1.0
    hyperparam_rules.check(typed, named)
    return typed


def booster_params(typed: dict) -> dict:
    """The subset xgboost's `train` takes as params. Unset ones and defaults (which equal xgboost's own)
    are left out, so xgboost never warns that a tree setting is unused by gblinear."""
    params = {
        name: value for name, value in typed.items()
        if SCHEMA[name].booster and value is not None and value != SCHEMA[name].default
    }
    params["objective"] = typed["objective"]
    if not params.get("eval_metric"):
        params.pop("eval_metric", None)
    if params.get("updater"):
        params["updater"] = ",".join(params["updater"])
    if params.get("tree_method") == "gpu_hist":
        params.setdefault("device", "cuda")
    if typed["booster"] != "gblinear":
        params["tree_method"] = hyperparam_rules.tree_method(typed)
    return params
