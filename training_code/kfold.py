"""`_kfold` / `_num_cv_round`: repeated k-fold cross-validation, as the built-in algorithm runs it.

The train and validation channels are pooled, split into `_kfold` folds (stratified by label for
classification), `_num_cv_round` times with fresh shuffles; one booster is trained per split, so
the model directory gets `_kfold x _num_cv_round` members `xgboost-model-0..N-1`, served as an
ensemble (mean of predictions). Each member prints its per-round lines; after each repetition, and
over all of them, a line `[num_round]<TAB>train-<metric>:<mean><TAB>validation-<metric>:<mean>` gives the
cross-validated means, so a tuning job's last reading of `validation:<metric>` is the CV mean.
Single host only; no checkpoints (a restart trains the folds again).
"""
from __future__ import annotations

import sys

import numpy as np
import xgboost as xgb

from callbacks import MetricLogger
from data_iter import ChannelIter
from sm_contract import TrainingError
from train_metrics import MetricPlan, best_model, early_stopping


def _dense(csr) -> np.ndarray:
    # libsvm: an absent entry is a missing value for xgboost, so NaN, not 0.
    dense = np.full(csr.shape, np.nan, np.float32)
    dense[np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr)), csr.indices] = csr.data
    return dense


def _load(channels: list[ChannelIter]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    features, labels, weights = [], [], []
    for channel in channels:
        for chunk in channel._chunks():
            features.append(chunk.features if isinstance(chunk.features, np.ndarray) else _dense(chunk.features))
            labels.append(chunk.label)
            weights.append(chunk.weight)
    width = max(f.shape[1] for f in features)
    x = np.vstack([np.pad(f, ((0, 0), (0, width - f.shape[1])), constant_values=np.nan) for f in features])
    w = None if any(part is None for part in weights) else np.concatenate(weights)
    return x, np.concatenate(labels), w


def fold_indexes(y: np.ndarray, k: int, repeats: int, seed: int, stratify: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) for each of `repeats` x `k` splits; classes spread evenly when stratified."""
    if len(y) < k:
        raise TrainingError(f"_kfold={k} needs at least {k} rows; the train and validation channels hold {len(y)}")
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(repeats):
        assignment = np.empty(len(y), np.int64)
        groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
        offset = 0
        for rows in groups:
            rows = rng.permutation(rows)
            # Deal the shuffled rows of each class round-robin, continuing where the last class stopped.
            assignment[rows] = (np.arange(len(rows)) + offset) % k
            offset += len(rows)
        for fold in range(k):
            splits.append((np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold)))
    return splits


def _cv_line(num_round: int, results: list[dict]) -> str:
    parts = [f"[{num_round}]"]
    for metric in results[0]["train"]:
        for data_name in ("train", "validation"):
            values = [r[data_name][metric][-1] for r in results]
            parts.append(f"{data_name}-{metric}:{np.mean(values):.5f}")
    return "\t".join(parts)


def train_folds(hp: dict, params: dict, metrics: MetricPlan, channels: list[ChannelIter]) -> tuple[list, list]:
    """Train every fold's booster; returns (boosters cut at their best iteration, best iterations)."""
    x, y, w = _load(channels)
    k, repeats = hp["_kfold"], hp["_num_cv_round"]
    stratify = hp["objective"].startswith(("binary:", "multi:"))
    print(f"{repeats} round(s) of {k}-fold cross-validation on {len(y)} rows", file=sys.stderr, flush=True)
    boosters, iterations, results = [], [], []
    custom = metrics.custom_metric(hp["objective"], hp["num_class"])
    for index, (train_rows, held_out) in enumerate(fold_indexes(y, k, repeats, hp["seed"], stratify)):
        dtrain = xgb.QuantileDMatrix(x[train_rows], label=y[train_rows], max_bin=hp["max_bin"],
                                     weight=None if w is None else w[train_rows])
        dvalid = xgb.QuantileDMatrix(x[held_out], label=y[held_out], ref=dtrain,
                                     weight=None if w is None else w[held_out])
        log: dict = {}
        print(f"cross-validation fold {index % k + 1} of {k} (repetition {index // k + 1})", file=sys.stderr, flush=True)
        booster = xgb.train(params, dtrain, num_boost_round=hp["num_round"],
                            evals=[(dtrain, "train"), (dvalid, "validation")], evals_result=log,
                            custom_metric=custom, verbose_eval=False,
                            callbacks=[*early_stopping(metrics, hp["early_stopping_rounds"], True), MetricLogger()])
        final, best = best_model(booster)
        boosters.append(final)
        iterations.append(best)
        results.append(log)
        if len(results) % k == 0:
            print(_cv_line(hp["num_round"], results[-k:]), flush=True)
    if repeats > 1:
        print(_cv_line(hp["num_round"], results), flush=True)
    return boosters, iterations
