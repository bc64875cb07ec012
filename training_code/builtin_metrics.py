"""The extra evaluation metrics of the SageMaker built-in XGBoost algorithm, computed every round.

xgboost itself has no `accuracy`, `f1`, `mse`, `r2`, ... The built-in algorithm adds them as a
custom metric; so do we, with the same names and definitions (scikit-learn's, re-done in numpy):

- class metrics take the predicted class as the built-in does (margin > 0, i.e. probability > 0.5
  for binary:logistic; argmax for multi-class): accuracy, balanced_accuracy, f1 (= f1_macro),
  f1_binary, f1_macro, precision / recall (binary, positive class 1), precision_macro /
  precision_micro, recall_macro / recall_micro;
- regression metrics on the model's predictions: mse, r2 (and rmse, mae, which xgboost also has:
  a name xgboost knows is left to xgboost).

In a multi-host job every host holds a shard: the sufficient statistics (confusion matrix, sums of
errors) are all-reduced before the value is taken, so every host prints the value over all rows.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from xgboost import collective

from sm_contract import TrainingError

CLASS_METRICS = ("accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "precision",
                 "precision_macro", "precision_micro", "recall", "recall_macro", "recall_micro")
REGRESSION_METRICS = ("mse", "r2")
EXTRA_METRICS = CLASS_METRICS + REGRESSION_METRICS
BINARY_ONLY = ("f1_binary", "precision", "recall")
# Larger is better for these (xgboost's early stopping must know for a custom metric).
MAXIMIZE = set(CLASS_METRICS) | {"r2"}

# The prediction above which the margin is > 0, for each objective's link function.
_LOGISTIC = ("binary:logistic", "reg:logistic")
_LOG_LINK = ("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft")


def predicted_class(pred: np.ndarray, objective: str) -> np.ndarray:
    """The class the built-in counts: argmax for (n, k) scores, else margin > 0."""
    if pred.ndim == 2:
        return np.argmax(pred, axis=1)
    if objective == "multi:softmax":
        return pred.astype(np.int64)
    threshold = 0.5 if objective in _LOGISTIC or objective == "binary:hinge" else (
        1.0 if objective in _LOG_LINK else 0.0)
    return (pred > threshold).astype(np.int64)


def _allreduce(values: np.ndarray) -> np.ndarray:
    if collective.is_distributed():
        return collective.allreduce(values, collective.Op.SUM)
    return values


def _confusion(y: np.ndarray, pred_class: np.ndarray, n_classes: int) -> np.ndarray:
    if len(y) and not np.all((y == np.floor(y)) & (y >= 0) & (y < n_classes)):
        raise TrainingError(f"class metrics (accuracy, f1, precision, ...) need labels 0..{n_classes - 1}; "
                            f"saw [{float(y.min()):g}, {float(y.max()):g}]: use mse, rmse, mae or r2")
    index = y.astype(np.int64) * n_classes + np.clip(pred_class, 0, n_classes - 1)
    counts = np.bincount(index, minlength=n_classes * n_classes).astype(np.float64)
    return _allreduce(counts).reshape(n_classes, n_classes)


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # scikit-learn's zero_division: a class with nothing predicted (or present) scores 0.
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def class_metric(name: str, cm: np.ndarray) -> float:
    """One class metric from a confusion matrix (rows: true class, columns: predicted)."""
    tp = np.diag(cm)
    true_n, pred_n, total = cm.sum(1), cm.sum(0), cm.sum()
    if name == "accuracy" or name in ("precision_micro", "recall_micro"):
        return float(tp.sum() / total) if total else 0.0
    # Macro averages run over the labels that occur in the truth or the predictions (scikit-learn).
    seen = (true_n + pred_n) > 0
    precision, recall = _divide(tp, pred_n), _divide(tp, true_n)
    f1 = _divide(2 * precision * recall, precision + recall)
    if name == "balanced_accuracy":
        present = true_n > 0
        return float(recall[present].mean()) if present.any() else 0.0
    if name in ("f1", "f1_macro"):
        return float(f1[seen].mean()) if seen.any() else 0.0
    if name == "precision_macro":
        return float(precision[seen].mean()) if seen.any() else 0.0
    if name == "recall_macro":
        return float(recall[seen].mean()) if seen.any() else 0.0
    positive = 1  # binary metrics: class 1 is the positive class
    return float({"f1_binary": f1, "precision": precision, "recall": recall}[name][positive])


def regression_metric(name: str, y: np.ndarray, pred: np.ndarray) -> float:
    y, pred = y.astype(np.float64), pred.astype(np.float64)
    err = y - pred
    n, sse, sy, syy = _allreduce(np.array([len(y), err @ err, y.sum(), y @ y]))
    if name == "mse":
        return float(sse / n) if n else float("nan")
    ss_tot = syy - sy * sy / n if n else 0.0
    if ss_tot <= 0:  # constant labels: scikit-learn's force_finite convention
        return 1.0 if sse == 0 else 0.0
    return float(1.0 - sse / ss_tot)


def custom_metric(names: list[str], objective: str, num_class: int | None) -> Callable:
    """An xgboost `custom_metric` returning [(name, value), ...] for the extra metrics in `names`."""
    n_classes = num_class or 2

    def evaluate(pred: np.ndarray, dmatrix) -> list[tuple[str, float]]:
        y = dmatrix.get_label()
        if pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        out = []
        cm = None
        for name in names:
            if name in CLASS_METRICS:
                if cm is None:
                    cm = _confusion(y, predicted_class(pred, objective), n_classes)
                out.append((name, class_metric(name, cm)))
            else:
                out.append((name, regression_metric(name, y, pred)))
        return out

    return evaluate
