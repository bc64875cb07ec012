"""Load the trained model and predict: array evaluator for small batches, xgboost for large ones.

The model directory holds ``xgboost-model`` (xgboost native format, written by train.py) and
optionally ``model-metadata.json`` (feature count, objective), which is checked against the
booster so a mismatched artifact fails at load rather than on the first request.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from serving_trees import Forest, UnsupportedModel, export_forest

MODEL_FILE = "xgboost-model"
METADATA_FILE = "model-metadata.json"
_FEATURE_KEYS = ("num_features", "n_features", "feature_count", "num_feature")
# The array evaluator must agree with xgboost to this (absolute, on predictions) or is not used.
AGREEMENT = 1e-6
_CHECK_ROWS = 256
_PROBE_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

log = logging.getLogger(__name__)


class ModelError(RuntimeError):
    """The model artifact is missing or unusable: a server error, never the client's fault."""


@dataclass(frozen=True)
class Predictor:
    """A loaded model. ``predict`` returns what ``Booster.inplace_predict`` would."""

    booster: xgb.Booster
    forest: Forest | None
    fast_max_rows: int  # batches up to this many rows use the array evaluator
    n_features: int
    objective: str
    note: str           # why the fast path is on or off, for the log
    inplace: bool = True  # gblinear has no inplace_predict: it goes through a DMatrix


    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Predict float32 rows [n, n_features]; NaN is a missing value."""
        if self.forest is not None and rows.shape[0] <= self.fast_max_rows:
            return self.forest.predict(rows)
        if self.inplace:
            return self.booster.inplace_predict(rows, validate_features=False)
        return self.booster.predict(xgb.DMatrix(rows), validate_features=False)


def load_predictor(model_dir: str | os.PathLike, *, nthread: int | None = None,
                   fast_max_rows: int | None = None) -> Predictor:
    """Load ``model_dir``/xgboost-model and prepare the fastest verified prediction path.

    ``fast_max_rows`` None measures the crossover between the array evaluator and xgboost on
    this model and machine; 0 turns the array evaluator off.
    """
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"no model at {path}")
    booster = xgb.Booster()
    try:
        # From bytes, xgboost tells JSON from UBJSON by content: the file has no extension.
        booster.load_model(bytearray(path.read_bytes()))
    except xgb.core.XGBoostError as error:
        raise ModelError(f"cannot load {path}: {str(error).splitlines()[0]}") from None
    if nthread:
        booster.set_param({"nthread": nthread})
    config = json.loads(booster.save_config())
    objective = config["learner"]["objective"]["name"]
    n_features = booster.num_features()
    _check_metadata(Path(model_dir) / METADATA_FILE, n_features, objective)
    forest, note = _verified_forest(booster, n_features)
    if forest is None or fast_max_rows == 0:
        inplace = config["learner"]["gradient_booster"]["name"] != "gblinear"
        return Predictor(booster, None, 0, n_features, objective, note, inplace)
    if fast_max_rows is None:
        fast_max_rows = measure_crossover(forest, booster, n_features)
        note += f"; array evaluator up to {fast_max_rows} rows (measured)"
    return Predictor(booster, forest, fast_max_rows, n_features, objective, note)


def _check_metadata(path: Path, n_features: int, objective: str) -> None:
    if not path.is_file():
        return
    try:
        meta = json.loads(path.read_text())
    except ValueError as error:
        raise ModelError(f"{path.name} is not valid JSON: {error}") from None
    declared = next((meta[k] for k in _FEATURE_KEYS if k in meta), None)
    if declared is not None and int(declared) != n_features:
        raise ModelError(f"{path.name} declares {declared} features, the model has {n_features}")
    if meta.get("objective") not in (None, objective):
        raise ModelError(f"{path.name} declares objective {meta['objective']!r}, "
                         f"the model has {objective!r}")


def probe_rows(forest: Forest | None, n_features: int, count: int, seed: int = 0) -> np.ndarray:
    """Rows that exercise the model: values near its split thresholds, some of them missing."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(count, n_features)).astype(np.float32)
    if forest is not None:
        splits = forest.threshold[~np.isnan(forest.threshold)]
        columns = forest.feature[~np.isnan(forest.threshold)] % n_features
        for column in np.unique(columns):
            near = splits[columns == column]
            picks = rng.choice(near, size=count) + rng.normal(scale=1e-3, size=count)
            rows[:, column] = picks.astype(np.float32)
    rows[rng.random(rows.shape) < 0.15] = np.nan
    return rows


def _verified_forest(booster: xgb.Booster, n_features: int) -> tuple[Forest | None, str]:
    """Export and calibrate the array evaluator; keep it only if it matches xgboost."""
    try:
        forest = export_forest(booster.save_raw("json"))
    except UnsupportedModel as error:
        return None, f"array evaluator off: {error} is not supported; xgboost predicts everything"
    rows = probe_rows(forest, n_features, _CHECK_ROWS)
    forest = forest.calibrate(booster.predict(xgb.DMatrix(rows), output_margin=True), rows)
    check = probe_rows(forest, n_features, _CHECK_ROWS, seed=1)
    gap = float(np.max(np.abs(forest.predict(check) - booster.predict(xgb.DMatrix(check)))))
    if not gap <= AGREEMENT:
        return None, f"array evaluator off: differs from xgboost by {gap:.2e}"
    return forest, f"array evaluator verified (max gap {gap:.1e})"


def measure_crossover(forest: Forest, booster: xgb.Booster, n_features: int) -> int:
    """Largest batch size at which the array evaluator still beats ``inplace_predict``.

    Best-of-several timings, so a noisy neighbour makes the answer conservative, not wrong.
    """
    rows = probe_rows(forest, n_features, _PROBE_SIZES[-1], seed=2)
    best = 0
    for size in _PROBE_SIZES:
        batch = rows[:size]
        ours = _best_time(lambda batch=batch: forest.predict(batch))
        theirs = _best_time(lambda batch=batch: booster.inplace_predict(batch, validate_features=False))
        if ours >= theirs:
            break
        best = size
    return best


def _best_time(call, repeats: int = 5) -> float:
    call()  # warm caches and xgboost's thread pool
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)
