"""What training leaves in the model directory (packed by SageMaker into model.tar.gz).

- `xgboost-model`: the booster in UBJSON (xgboost's binary JSON, the default since 2.1). Loaded by
  `xgb.Booster().load_model(path)`, which detects the format from the content, so the AWS XGBoost
  container and our inference code read it alike. With early stopping it holds only the trees up to
  the best iteration, so any loader predicts with the best model without `iteration_range`.
- `model-metadata.json`: feature count, objective, xgboost version, best iteration, final metrics.
- `feature-importance.json`: {"gain": {feature: value}, "weight": {feature: count}}.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import xgboost as xgb
from xgboost import collective

from sm_contract import write_atomic

MODEL_FILE = "xgboost-model"
METADATA_FILE = "model-metadata.json"
IMPORTANCE_FILE = "feature-importance.json"
_EVAL_ITEM = re.compile(r"(\w+)-([\w@.:-]+?):(-?[\d.eE+-]+|nan|inf)")
_FOLD_FILE = re.compile(rf"^{MODEL_FILE}-(\d+)$")


class ModelDirError(ValueError):
    """The model directory does not hold a model in the layout above."""


def model_files(model_dir: str | Path) -> list[Path]:
    """The booster files: [xgboost-model], or the kfold members xgboost-model-0..N-1 in order."""
    model_dir = Path(model_dir)
    single = model_dir / MODEL_FILE
    if single.is_file():
        return [single]
    folds = sorted((int(m.group(1)), p) for p in (model_dir.iterdir() if model_dir.is_dir() else [])
                   if p.is_file() and (m := _FOLD_FILE.match(p.name)))
    if not folds:
        raise ModelDirError(f"no {MODEL_FILE} (or {MODEL_FILE}-0...) in {model_dir}")
    if [i for i, _ in folds] != list(range(len(folds))):
        raise ModelDirError(f"{model_dir}: ensemble members are not numbered 0..{len(folds) - 1}")
    return [p for _, p in folds]


def read_metadata(model_dir: str | Path) -> dict | None:
    """The model's metadata (see `save_artifacts`), or None when the directory has none."""
    path = Path(model_dir) / METADATA_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ModelDirError(f"{path} is not valid JSON: {err}") from None


def parse_eval(text: str) -> dict[str, dict[str, float]]:
    """Parse `Booster.eval_set` output (`[0]\\ttrain-auc:0.99\\tvalidation-auc:0.98`) into nested dicts."""
    out: dict[str, dict[str, float]] = {}
    for field in text.split("\t")[1:]:
        match = _EVAL_ITEM.fullmatch(field.strip())
        if match:
            out.setdefault(match.group(1), {})[match.group(2)] = float(match.group(3))
    return out


def best_model(booster: xgb.Booster) -> tuple[xgb.Booster, int]:
    """The booster cut at its best iteration (early stopping), and that iteration."""
    rounds = booster.num_boosted_rounds()
    best = booster.attr("best_iteration")
    best_iteration = int(best) if best is not None else rounds - 1
    if best_iteration < rounds - 1:
        return booster[: best_iteration + 1], best_iteration
    return booster, best_iteration


def final_metrics(final: xgb.Booster, evals: list, dtest=None) -> dict[str, dict[str, float]]:
    """Metrics of the final model on every eval set (and test); prints `test:<metric>` lines.

    In a multi-host job this is a collective call: every host must make it, not only the leader.
    """
    metrics = parse_eval(final.eval_set(evals)) if evals else {}
    if dtest is not None:
        metrics.update(parse_eval(final.eval_set([(dtest, "test")])))
        if collective.get_rank() == 0:
            print(" ".join(f"test:{k}={v:.6f}" for k, v in metrics.get("test", {}).items()), flush=True)
    return metrics


def save_artifacts(model_dir: Path, final: xgb.Booster, best_iteration: int, hp: dict, metrics: dict) -> dict:
    """Write model, metadata and feature importance (leader only); returns the metadata."""
    model_dir = Path(model_dir)
    # Store no feature names, so every loader may predict on plain arrays (xgboost rejects unnamed
    # input for a model that stores names, e.g. if columnar training input ever carried some).
    final.feature_names = None
    final.feature_types = None
    metadata = {
        "model_file": MODEL_FILE,
        "model_format": "ubj",
        "xgboost_version": xgb.__version__,
        "objective": hp["objective"],
        "num_class": hp["num_class"],
        "feature_count": final.num_features(),
        "num_boosted_rounds": final.num_boosted_rounds(),
        "best_iteration": best_iteration,
        "eval_metric": _primary_metric(metrics),
        "metrics": metrics,
        "hyperparameters": {k: v for k, v in hp.items() if v is not None},
    }
    write_atomic(model_dir / MODEL_FILE, bytes(final.save_raw(raw_format="ubj")))
    importance = {kind: final.get_score(importance_type=kind) for kind in ("gain", "weight")}
    write_atomic(model_dir / IMPORTANCE_FILE, json.dumps(importance, indent=1).encode())
    write_atomic(model_dir / METADATA_FILE, json.dumps(metadata, indent=1).encode())
    print(f"model saved to {model_dir / MODEL_FILE} ({metadata['num_boosted_rounds']} rounds)",
          file=sys.stderr, flush=True)
    return metadata


def _primary_metric(metrics: dict) -> str | None:
    # xgboost's early stopping watches the last metric of the last eval set; report the same one.
    for data_name in ("validation", "train"):
        if metrics.get(data_name):
            return list(metrics[data_name])[-1]
    return None
