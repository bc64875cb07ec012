"""Model-quality metrics in numpy alone (no scikit-learn in the processing image), in the shape of the
SageMaker Model Registry's model-quality metrics (`ModelMetrics.ModelQuality.Statistics`).

Every metric is `{"value": v, "standard_deviation": s}`; the standard deviation is a seeded bootstrap
over the test rows, which is how SageMaker Clarify/Model Monitor report it too.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

BOOTSTRAP_ROUNDS = 20


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U), ties averaged."""
    y = np.asarray(y) > 0.5
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    sorted_scores = np.asarray(score)[order]
    ranks = np.empty(len(score), dtype=np.float64)
    # Average ranks over runs of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(score)]))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix, rows = actual class, columns = predicted class."""
    index = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _prf(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def _bootstrap(fn: Callable[[np.ndarray], dict], n: int, seed: int) -> dict[str, dict[str, float]]:
    """Value on all rows plus the bootstrap standard deviation of each scalar metric."""
    point = fn(np.arange(n))
    rng = np.random.default_rng(seed)
    samples = [fn(rng.integers(0, n, n)) for _ in range(BOOTSTRAP_ROUNDS)]
    return {
        name: {"value": value, "standard_deviation": float(np.nanstd([s[name] for s in samples]))}
        for name, value in point.items()
    }


def binary_metrics(y: np.ndarray, prob: np.ndarray, threshold: float = 0.5, seed: int = 0) -> dict:
    """`binary_classification_metrics`: accuracy, precision, recall, f1, auc, confusion matrix."""
    y, prob = np.asarray(y).astype(np.int64), np.asarray(prob, dtype=np.float64)
    pred = (prob >= threshold).astype(np.int64)

    def scalars(idx):
        cm = confusion(y[idx], pred[idx], 2)
        p, r, f = _prf(cm)
        return {"accuracy": float(np.trace(cm) / max(cm.sum(), 1)), "precision": float(p[1]),
                "recall": float(r[1]), "f1": float(f[1]), "auc": roc_auc(y[idx], prob[idx])}

    metrics = _bootstrap(scalars, len(y), seed)
    cm = confusion(y, pred, 2)
    metrics["confusion_matrix"] = {str(a): {str(p): int(cm[a, p]) for p in range(2)} for a in range(2)}
    return {"binary_classification_metrics": metrics}


def multiclass_metrics(y: np.ndarray, prob: np.ndarray, seed: int = 0) -> dict:
    """`multiclass_classification_metrics`: accuracy, weighted precision/recall/f1, confusion matrix."""
    y = np.asarray(y).astype(np.int64)
    n_classes = prob.shape[1]
    pred = np.argmax(prob, axis=1)

    def scalars(idx):
        cm = confusion(y[idx], pred[idx], n_classes)
        p, r, f = _prf(cm)
        weights = cm.sum(1) / max(cm.sum(), 1)
        return {"accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
                "weighted_precision": float(weights @ p), "weighted_recall": float(weights @ r),
                "weighted_f1": float(weights @ f)}

    metrics = _bootstrap(scalars, len(y), seed)
    cm = confusion(y, pred, n_classes)
    metrics["confusion_matrix"] = {
        str(a): {str(p): int(cm[a, p]) for p in range(n_classes)} for a in range(n_classes)
    }
    return {"multiclass_classification_metrics": metrics}


def regression_metrics(y: np.ndarray, pred: np.ndarray, seed: int = 0) -> dict:
    """`regression_metrics`: mse, rmse, mae, r2."""
    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)

    def scalars(idx):
        err = y[idx] - pred[idx]
        mse = float(np.mean(err ** 2))
        var = float(np.var(y[idx]))
        return {"mse": mse, "rmse": mse ** 0.5, "mae": float(np.mean(np.abs(err))),
                "r2": 1.0 - mse / var if var > 0 else float("nan")}

    return {"regression_metrics": _bootstrap(scalars, len(y), seed)}
