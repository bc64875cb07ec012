"""Hand-off checks on real outputs: predictions served vs the booster, joined batch output vs the
evaluation report."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from rehearsal.pipeline_steps import StepFailed


def csv_rows(folder: Path) -> list[list[str]]:
    """Every row of every CSV file under `folder` (label first, no header: the channel format)."""
    rows = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))):
        rows += [r for r in csv.reader(io.StringIO(file.read_text())) if r]
    if not rows:
        raise StepFailed(f"no CSV rows under {folder}")
    return rows


def apply_input_filter(row: list[str], input_filter: str | None) -> list[str]:
    """Batch transform's `InputFilter` on a CSV record; `$[1:]` (drop the label) and `$` only."""
    if input_filter in (None, "$"):
        return row
    if input_filter == "$[1:]":
        return row[1:]
    raise StepFailed(f"the rehearsal does not know InputFilter {input_filter!r}")


def parse_predictions(content_type: str, body: bytes) -> list[float]:
    """Scores from a CSV, JSON Lines or JSON answer (built-in shape `{"predictions": [{"score": s}]}`
    or a plain list)."""
    text = body.decode("utf-8")
    if content_type.startswith("text/csv"):
        lines = [line for line in text.splitlines() if line]
        # The built-in answers a real-time CSV request on one line ("s1,s2,..."); in batch mode
        # (SAGEMAKER_BATCH=true) one line per record.
        if len(lines) == 1:
            return [float(v) for v in lines[0].split(",")]
        return [float(line.split(",")[0]) for line in lines]
    if content_type.startswith("application/jsonlines"):
        return [_score(json.loads(line)) for line in text.splitlines() if line]
    document = json.loads(text)
    items = document["predictions"] if isinstance(document, dict) else document
    return [_score(item) for item in items]


def _score(item) -> float:
    if isinstance(item, dict):
        item = item.get("score", item.get("probability"))
    if isinstance(item, list):
        item = item[-1]
    return float(item)


def booster_predictions(model_dir: Path, rows: list[list[str]]) -> tuple[np.ndarray, int]:
    """xgboost's own predictions for `rows` (features only), and the model's feature count."""
    import xgboost as xgb

    models = sorted(p for p in model_dir.iterdir() if p.is_file() and p.name.startswith("xgboost-model"))
    if not models:
        raise StepFailed(f"no xgboost-model file in {model_dir}")
    booster = xgb.Booster()
    booster.load_model(bytearray(models[0].read_bytes()))  # the file has no extension to tell its format
    features = np.array([[float(v) if v != "" else np.nan for v in r] for r in rows], dtype=np.float32)
    return booster.predict(xgb.DMatrix(features)), booster.num_features()
