"""Rules between hyperparameters, and the value checks too long for hyperparams.SCHEMA.

Each rule the built-in algorithm enforces is enforced here with a message that says what to change.
"""
from __future__ import annotations

import ast
import sys

from sm_contract import TrainingError

PLAIN_MATRIX_METHODS = ("exact", "approx")
LINEAR_UPDATERS = ("shotgun", "coord_descent")
UPDATE_UPDATERS = ("refresh", "prune")
TREE_UPDATERS = ("grow_colmaker", "grow_histmaker", "grow_quantile_histmaker", "grow_gpu_hist", "grow_gpu_approx",
                 "sync", "refresh", "prune")


def _literal(text: str):
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return None


def is_monotone(text: str) -> bool:
    """`(1,0,-1)` (or `[1,0,-1]`): one of -1, 0, 1 per feature."""
    value = _literal(text)
    value = (value,) if isinstance(value, int) else value
    return isinstance(value, (tuple, list)) and len(value) > 0 and all(
        isinstance(v, int) and not isinstance(v, bool) and v in (-1, 0, 1) for v in value)


def is_interaction(text: str) -> bool:
    """`[[0,1],[2,3,4]]`: lists of feature indexes (>= 0) allowed to interact."""
    value = _literal(text)
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(
        isinstance(group, (list, tuple)) and group and all(isinstance(i, int) and i >= 0 for i in group)
        for group in value)


def tree_method(typed: dict) -> str:
    """The tree_method xgboost gets: exact/approx as asked, everything else hist (auto and gpu_hist map to it)."""
    method = typed["tree_method"] or "hist"
    return method if method in PLAIN_MATRIX_METHODS else "hist"


def needs_plain_matrix(typed: dict) -> bool:
    """exact, approx and gblinear cannot train on a QuantileDMatrix: they get an in-memory DMatrix."""
    return typed["booster"] == "gblinear" or tree_method(typed) in PLAIN_MATRIX_METHODS


def _check_updater(typed: dict) -> None:
    updaters = typed["updater"]
    if not updaters:
        return
    if typed["booster"] == "gblinear":
        if len(updaters) != 1 or updaters[0] not in LINEAR_UPDATERS:
            raise TrainingError(f"updater for gblinear must be one of {', '.join(LINEAR_UPDATERS)}")
    elif typed["process_type"] == "update":
        if not set(updaters) <= set(UPDATE_UPDATERS):
            raise TrainingError("process_type update can only be used with updater refresh and prune")
    elif not set(updaters) <= set(TREE_UPDATERS):
        raise TrainingError(f"updater must be chosen from {', '.join(TREE_UPDATERS)}")


def check(typed: dict, given: dict) -> None:
    """Cross-field rules; `given` holds the names the job set (canonical names)."""
    objective = typed["objective"]
    if objective.startswith("multi:") and typed["num_class"] is None:
        raise TrainingError(f"hyperparameter num_class is required for objective {objective}")
    method = typed["tree_method"] or "hist"
    if typed["monotone_constraints"] and method not in ("exact", "hist", "auto", "gpu_hist"):
        raise TrainingError("monotone_constraints can be used only with tree_method exact or hist")
    if typed["tweedie_variance_power"] is not None and objective != "reg:tweedie":
        print("tweedie_variance_power is only read by objective reg:tweedie", file=sys.stderr)
    if typed["use_dask_gpu_training"] == "true":
        raise TrainingError("use_dask_gpu_training=true is not supported by this training code: train on one GPU "
                            "instance, or on several instances with ShardedByS3Key (collective training)")
    if "_num_cv_round" in given and typed["_kfold"] is None:
        raise TrainingError("_num_cv_round needs _kfold (the number of folds)")
    if typed["_kfold"] is not None and typed["sketch_sample_ratio"] < 1:
        raise TrainingError("sketch_sample_ratio < 1 cannot be combined with _kfold")
    _check_updater(typed)
