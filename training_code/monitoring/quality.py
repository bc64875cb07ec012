"""Model quality once ground truth arrives: labels joined to captured predictions by event id.

Ground truth files are JSON Lines under the endpoint's labels prefix
(`<labels prefix>/<endpoint>/yyyy/mm/dd/hh/*.jsonl`, the hour the labels were collected), one line
per labelled inference, as Model Monitor reads them:

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<the capture's inferenceId, else its eventId>"}, "eventVersion": "0"}

`data` holds one label per row of the captured request (comma or newline separated); JSON
encoding may hold a number or a list. A line that cannot be read is counted, never fatal.
Metrics: accuracy, precision, recall, F1, AUC (binary; precision/recall/F1 weighted for
multiclass); RMSE, MAE, R2 (regression). Violations compare them with `model_quality_constraints`
(Model Monitor's `<problem>_constraints` with `LessThanThreshold`/`GreaterThanThreshold`).
"""
from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from pathlib import Path

import numpy as np

from model_metrics import confusion, roc_auc

PROBLEM_KEYS = {"BinaryClassification": "binary_classification", "MulticlassClassification":
                "multiclass_classification", "Regression": "regression"}


def read_labels(paths: list[Path]) -> tuple[dict, Counter]:
    """{event id: [label per row]} and the refused lines counted by reason."""
    labels: dict = {}
    refused: Counter = Counter()
    for path in paths:
        with open(path, "rb") as handle:
            for raw in handle:
                if not raw.strip():
                    continue
                try:
                    key, values = _label_line(raw)
                except ValueError as error:
                    refused[str(error)] += 1
                    continue
                labels[key] = values
    return labels, refused


def _label_line(raw: bytes) -> tuple[str, list[float]]:
    try:
        record = json.loads(raw)
        data, meta = record["groundTruthData"], record["eventMetadata"]
        key = meta.get("inferenceId") or meta["eventId"]
        text, encoding = data["data"], str(data.get("encoding", "CSV")).upper()
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a ground-truth record (groundTruthData and eventMetadata.eventId)") from None
    try:
        if encoding == "BASE64":
            text, encoding = base64.b64decode(text, validate=True).decode("utf-8"), "CSV"
        if encoding == "JSON":
            value = json.loads(text) if isinstance(text, str) else text
            values = value if isinstance(value, list) else [value]
        else:
            values = str(text).replace("\n", ",").split(",")
        return str(key), [float(v) for v in values if str(v).strip() != ""]
    except (ValueError, TypeError, binascii.Error):
        raise ValueError("ground-truth label is not a number") from None


def join(keys: list, predictions: list, labels: dict) -> tuple[np.ndarray, np.ndarray]:
    """(labels, predictions) of every captured row whose record has a label for that row."""
    y, p = [], []
    for (key, row), score in zip(keys, predictions, strict=False):
        values = labels.get(key)
        if values is not None and row < len(values) and score is not None:
            y.append(values[row])
            p.append(score)
    return np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)


def metrics(problem_type: str, y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict:
    """Model-quality metrics of the joined rows as plain floats."""
    if problem_type == "Regression":
        err = y - score
        mse, var = float(np.mean(err ** 2)), float(np.var(y))
        return {"rmse": mse ** 0.5, "mae": float(np.mean(np.abs(err))), "mse": mse,
                "r2": 1.0 - mse / var if var > 0 else float("nan")}
    if problem_type == "BinaryClassification":
        truth, pred = (y > 0.5).astype(np.int64), (score >= threshold).astype(np.int64)
        cm = confusion(truth, pred, 2)
        tp, fp, fn = cm[1, 1], cm[0, 1], cm[1, 0]
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        return {"accuracy": float(np.trace(cm) / cm.sum()), "precision": float(precision),
                "recall": float(recall), "f1": float(2 * precision * recall / (precision + recall))
                if precision + recall else 0.0, "auc": roc_auc(truth, score)}
    classes = int(max(y.max(), score.max())) + 1
    cm = confusion(y.astype(np.int64), score.astype(np.int64), classes)
    tp = np.diag(cm).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    weights = cm.sum(1) / cm.sum()
    return {"accuracy": float(tp.sum() / cm.sum()), "weighted_precision": float(weights @ precision),
            "weighted_recall": float(weights @ recall), "weighted_f1": float(weights @ f1)}


def statistics_document(problem_type: str, values: dict, rows: int) -> dict:
    """Model Monitor's model-quality `statistics.json` shape."""
    return {"version": 0.0, "dataset": {"item_count": rows}, f"{PROBLEM_KEYS[problem_type]}_metrics": {
        name: {"value": value, "standard_deviation": "NaN"} for name, value in values.items()}}


def violations(problem_type: str, values: dict, constraints: dict) -> list[dict]:
    """Model Monitor's model-quality violations for every metric past its constraint."""
    out = []
    for name, rule in (constraints.get(f"{PROBLEM_KEYS[problem_type]}_constraints") or {}).items():
        value, limit, operator = values.get(name), rule["threshold"], rule["comparison_operator"]
        if value is None or value != value:
            continue
        if (operator == "LessThanThreshold" and value < limit) or (
                operator == "GreaterThanThreshold" and value > limit):
            out.append({"constraint_check_type": operator, "metric_name": name,
                        "description": f"Metric {name} with {value:.4f} was {operator} '{limit}'"})
    return out


def suggested_constraints(problem_type: str, values: dict, tolerance: float) -> dict:
    """Constraints a relative `tolerance` below (errors: above) the baseline's metrics."""
    rules = {}
    for name, value in values.items():
        if value != value or name == "mse":
            continue
        lower_is_worse = name not in ("rmse", "mae")
        rules[name] = {"threshold": round(value * (1 - tolerance) if lower_is_worse else value * (1 + tolerance), 6),
                       "comparison_operator": "LessThanThreshold" if lower_is_worse else "GreaterThanThreshold"}
    return {"version": 0.0, f"{PROBLEM_KEYS[problem_type]}_constraints": rules}
