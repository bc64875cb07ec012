"""Load the trained model and predict: compiled or numpy evaluator for small batches, xgboost for
large ones; a ``_kfold`` model directory is served as the mean of its members, as the built-in does.

Evaluators, fastest first (each verified against xgboost at load, to AGREEMENT, or not used):
  compiled  the trees walked in C (serving_native, built with the machine's C compiler)
  numpy     the trees as flat arrays, evaluated in a few vectorized calls (serving_trees)
  xgboost   Booster.inplace_predict: always used above the measured crossover batch size
SERVING_EVALUATOR (compiled | numpy | xgboost) forces one, for tests and benchmarks.

The model directory is read through model_artifacts (file names, metadata), which train.py writes.
"""
from __future__ import annotations

import xgboost_lean  # noqa: F401  (first: imports xgboost without scikit-learn; see its docstring)

# isort: split
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

import serving_native
from model_artifacts import ModelDirError, model_files, read_metadata
from serving_compiled import NativeForest
from serving_output import OutputConfigError, OutputSpec, output_spec
from serving_trees import Forest, UnsupportedModel, export_forest

_FEATURE_KEYS = ("num_features", "n_features", "feature_count", "num_feature")
# An evaluator must agree with xgboost to this (absolute, on predictions) or is not used.
AGREEMENT = 1e-6
EVALUATORS = ("compiled", "numpy", "xgboost")
_CHECK_ROWS = 256
_PROBE_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)

log = logging.getLogger(__name__)


class ModelError(RuntimeError):
    """The model artifact is missing or unusable: a server error, never the client's fault."""


@dataclass(frozen=True)
class Predictor:
    """One booster. ``predict`` returns what ``Booster.inplace_predict`` would."""

    booster: xgb.Booster
    forest: Forest | NativeForest | None  # the small-batch evaluator, or None
    fast_max_rows: int  # batches up to this many rows use it
    n_features: int
    objective: str
    num_class: int
    note: str           # which evaluator serves and why, for the log
    inplace: bool = True  # gblinear has no inplace_predict: it goes through a DMatrix

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Predict float32 rows [n, n_features]; NaN is a missing value."""
        if self.forest is not None and rows.shape[0] <= self.fast_max_rows:
            return self.forest.predict(rows)
        if self.inplace:
            return self.booster.inplace_predict(rows, validate_features=False)
        return self.booster.predict(xgb.DMatrix(rows), validate_features=False)


@dataclass(frozen=True)
class ServedModel:
    """Everything in the model directory: one member, or the kfold ensemble; how to answer."""

    members: tuple[Predictor, ...]
    output: OutputSpec

    @property
    def n_features(self) -> int:
        return self.members[0].n_features

    @property
    def objective(self) -> str:
        return self.members[0].objective

    @property
    def note(self) -> str:
        count = len(self.members)
        return self.members[0].note + (f"; ensemble of {count} kfold models (mean)" if count > 1 else "")

    def predict(self, rows: np.ndarray) -> np.ndarray:
        if len(self.members) == 1:
            return self.members[0].predict(rows)
        return np.mean([member.predict(rows) for member in self.members], axis=0)


def load_model(model_dir: str | os.PathLike, *, nthread: int | None = None,
               fast_max_rows: int | None = None, evaluator: str | None = None,
               env: dict | None = None) -> ServedModel:
    """Load every booster of ``model_dir`` (see model_artifacts) and the output settings."""
    env = os.environ if env is None else env
    try:
        paths = model_files(model_dir)
        metadata = read_metadata(model_dir)
    except ModelDirError as error:
        raise ModelError(str(error)) from None
    evaluator = evaluator or env.get("SERVING_EVALUATOR") or None
    members = tuple(load_predictor(path, nthread=nthread, fast_max_rows=fast_max_rows,
                                   evaluator=evaluator) for path in paths)
    first = members[0]
    if any((m.n_features, m.objective) != (first.n_features, first.objective) for m in members):
        raise ModelError(f"{model_dir}: the kfold models differ in feature count or objective")
    _check_metadata(metadata, first.n_features, first.objective)
    try:
        spec = output_spec(env, first.objective, first.num_class)
    except OutputConfigError as error:
        raise ModelError(str(error)) from None
    return ServedModel(members, spec)


def load_predictor(path: str | os.PathLike, *, nthread: int | None = None,
                   fast_max_rows: int | None = None, evaluator: str | None = None) -> Predictor:
    """Load one booster file (a directory means its ``xgboost-model``); pick its fastest path.

    ``fast_max_rows`` None measures the crossover between the small-batch evaluator and xgboost
    on this model and machine; 0 keeps every batch on xgboost.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "xgboost-model"
    if not path.is_file():
        raise ModelError(f"no model at {path}")
    if evaluator not in (None, *EVALUATORS):
        raise ModelError(f"SERVING_EVALUATOR={evaluator!r}: use one of {', '.join(EVALUATORS)}")
    booster = xgb.Booster()
    try:
        # From bytes, xgboost tells JSON from UBJSON by content: the file has no extension.
        booster.load_model(bytearray(path.read_bytes()))
    except xgb.core.XGBoostError as error:
        raise ModelError(f"cannot load {path}: {str(error).splitlines()[0]}") from None
    if nthread:
        booster.set_param({"nthread": nthread})
    config = json.loads(booster.save_config())
    learner = config["learner"]
    objective = learner["objective"]["name"]
    num_class = int(learner["learner_model_param"].get("num_class", "0") or 0)
    n_features = booster.num_features()
    inplace = learner["gradient_booster"]["name"] != "gblinear"
    forest, note = (None, "xgboost for every batch (forced)") if evaluator == "xgboost" else \
        _fast_evaluator(booster, n_features, evaluator)
    if forest is None or fast_max_rows == 0:
        return Predictor(booster, None, 0, n_features, objective, num_class, note, inplace)
    if fast_max_rows is None:
        fast_max_rows = measure_crossover(forest, booster, n_features)
        note += f"; up to {fast_max_rows} rows, xgboost above (measured)"
    return Predictor(booster, forest, fast_max_rows, n_features, objective, num_class, note)


def _check_metadata(meta: dict | None, n_features: int, objective: str) -> None:
    if not meta:
        return
    declared = next((meta[k] for k in _FEATURE_KEYS if k in meta), None)
    if declared is not None and int(declared) != n_features:
        raise ModelError(f"model metadata declares {declared} features, the model has {n_features}")
    if meta.get("objective") not in (None, objective):
        raise ModelError(f"model metadata declares objective {meta['objective']!r}, "
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


def _fast_evaluator(booster: xgb.Booster, n_features: int, wanted: str | None):
    """The fastest small-batch evaluator that matches xgboost, and a note saying which and why."""
    try:
        forest = export_forest(booster.save_raw("json"))
    except UnsupportedModel as error:
        if wanted in ("compiled", "numpy"):
            raise ModelError(f"SERVING_EVALUATOR={wanted}: {error} is not supported") from None
        return None, f"xgboost for every batch: {error} is not supported by the tree evaluators"
    rows = probe_rows(forest, n_features, _CHECK_ROWS)
    forest = forest.calibrate(booster.predict(xgb.DMatrix(rows), output_margin=True), rows)
    check = probe_rows(forest, n_features, _CHECK_ROWS, seed=1)
    expected = booster.predict(xgb.DMatrix(check))
    candidates, notes = [], []
    if wanted in (None, "compiled"):
        lib, why = serving_native.try_load()
        if lib is not None:
            candidates.append(("compiled evaluator", NativeForest(forest, lib)))
        else:
            notes.append(why)
    if wanted in (None, "numpy"):
        candidates.append(("numpy evaluator", forest))
    for name, candidate in candidates:
        gap = float(np.max(np.abs(candidate.predict(check) - expected)))
        if gap <= AGREEMENT:
            return candidate, "; ".join([*notes, f"{name} verified (max gap {gap:.1e})"])
        notes.append(f"{name} off: differs from xgboost by {gap:.2e}")
    if wanted == "compiled":
        raise ModelError(f"SERVING_EVALUATOR=compiled: {'; '.join(notes)}")
    return None, "; ".join([*notes, "xgboost for every batch"])


def measure_crossover(forest, booster: xgb.Booster, n_features: int) -> int:
    """Largest batch size at which the small-batch evaluator still beats ``inplace_predict``.

    Best-of-several timings, so a noisy neighbour makes the answer conservative, not wrong.
    """
    rows = probe_rows(None, n_features, _PROBE_SIZES[-1], seed=2)
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
