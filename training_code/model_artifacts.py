"""The model directory train.py writes (SageMaker packs it into model.tar.gz): its one definition.

    xgboost-model                      the booster (UBJSON), one model; or, with `_kfold`:
    xgboost-model-0 ... xgboost-model-<N-1>   N = _kfold x _num_cv_round boosters, served as an
                                       ensemble (mean of their predictions), as the built-in does
    metadata/model-metadata.json       feature count, objective, num_class, xgboost version, best
                                       iteration, final metrics, hyperparameters, model file names
    metadata/feature-importance.json   {"gain": {feature: value}, "weight": {feature: count}}
                                       (of the first model; gblinear: weight only)
    code/                              the inference code (inference.py, serve.py and the modules
                                       they import), so the served model never needs code from
                                       anywhere else (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code)

Why only model files at the top level: the AWS built-in XGBoost image loads EVERY regular file at
the top of the model directory as a booster (serve_utils.get_loaded_booster; older versions load
the first one listdir returns) and fails on anything else, e.g. a JSON file. Folders are skipped,
so rolling back to the built-in image works with this layout.

Readers go through `model_files` and `read_metadata` (the serving code, evaluate.py), never
through file names of their own. Models written before this layout (metadata at the top level)
are still read.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from pathlib import Path

from sm_contract import write_atomic

MODEL_FILE = "xgboost-model"
METADATA_DIR = "metadata"
METADATA_FILE = "model-metadata.json"
IMPORTANCE_FILE = "feature-importance.json"
CODE_DIR = "code"
_FOLD_FILE = re.compile(rf"^{MODEL_FILE}-(\d+)$")
_HERE = Path(__file__).resolve().parent
# What the served model runs: the script-mode handlers (SAGEMAKER_PROGRAM=inference.py) and our
# server. Every module of this folder they import, directly or not, is copied with them.
INFERENCE_ENTRY_POINTS = ("inference.py", "serve.py")


class ModelDirError(ValueError):
    """The model directory does not hold a model in the layout above."""


def model_files(model_dir: str | Path) -> list[Path]:
    """The booster files: [xgboost-model], or the kfold members in fold order (0, 1, ..., N-1)."""
    model_dir = Path(model_dir)
    single = model_dir / MODEL_FILE
    folds = sorted(
        ((int(m.group(1)), p) for p in model_dir.iterdir() if p.is_file() and (m := _FOLD_FILE.match(p.name))),
    ) if model_dir.is_dir() else []
    if single.is_file() and folds:
        raise ModelDirError(f"{model_dir} holds both {MODEL_FILE} and {MODEL_FILE}-<fold> files")
    if single.is_file():
        return [single]
    if not folds:
        raise ModelDirError(f"no {MODEL_FILE} (or {MODEL_FILE}-0...) in {model_dir}")
    indexes = [i for i, _ in folds]
    if indexes != list(range(len(folds))):
        raise ModelDirError(f"{model_dir}: ensemble members {indexes} are not numbered 0..{len(folds) - 1}")
    return [p for _, p in folds]


def metadata_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / METADATA_DIR / METADATA_FILE


def read_metadata(model_dir: str | Path) -> dict | None:
    """The model's metadata (see `save_artifacts`), or None when the directory has none.

    Also reads the top-level `model-metadata.json` of models written before this layout.
    """
    for path in (metadata_path(model_dir), Path(model_dir) / METADATA_FILE):
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except ValueError as err:
                raise ModelDirError(f"{path} is not valid JSON: {err}") from None
    return None


def _local_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return {name for name in names if (path.parent / f"{name}.py").is_file()}


def inference_code_files(code_dir: Path = _HERE) -> list[Path]:
    """The files `code/` carries: INFERENCE_ENTRY_POINTS and every module of `code_dir` they import
    (followed transitively, imports inside functions and try blocks included), sorted by name."""
    todo = [code_dir / name for name in INFERENCE_ENTRY_POINTS]
    found: dict[str, Path] = {}
    while todo:
        path = todo.pop()
        if path.name in found:
            continue
        if not path.is_file():
            raise ModelDirError(f"inference code file {path} is missing")
        found[path.name] = path
        todo.extend(code_dir / f"{name}.py" for name in _local_imports(path))
    return [found[name] for name in sorted(found)]


def write_code(model_dir: str | Path, code_dir: Path = _HERE) -> list[str]:
    """Copy the inference code into `<model_dir>/code/` (replacing what is there); returns the names."""
    target = Path(model_dir) / CODE_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    files = inference_code_files(code_dir)
    for path in files:
        shutil.copyfile(path, target / path.name)
    return [p.name for p in files]


def save_artifacts(model_dir: str | Path, boosters: list, best_iterations: list[int], hp: dict,
                   metrics: dict) -> dict:
    """Write the model file(s), metadata, feature importance and code/ (leader only); returns the metadata.

    One booster is saved as `xgboost-model`; several (kfold) as `xgboost-model-<i>`.
    """
    import xgboost as xgb

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    names = [MODEL_FILE] if len(boosters) == 1 else [f"{MODEL_FILE}-{i}" for i in range(len(boosters))]
    for stale in [p for p in model_dir.iterdir() if p.is_file() and (p.name == MODEL_FILE or _FOLD_FILE.match(p.name))]:
        stale.unlink()  # a rerun into the same folder must not leave another run's members behind
    for name, booster in zip(names, boosters, strict=True):
        # Store no feature names, so every loader may predict on plain arrays (xgboost rejects
        # unnamed input for a model that stores names, e.g. if columnar input ever carried some).
        booster.feature_names = None
        booster.feature_types = None
        write_atomic(model_dir / name, bytes(booster.save_raw(raw_format="ubj")))
    first = boosters[0]
    metadata = {
        "model_files": names,
        "model_format": "ubj",
        # How several members combine (the built-in's kfold serving: mean of their predictions).
        "ensemble": "mean" if len(names) > 1 else None,
        "members": [{"file": name, "num_boosted_rounds": b.num_boosted_rounds(), "best_iteration": it}
                    for name, b, it in zip(names, boosters, best_iterations, strict=True)],
        "xgboost_version": xgb.__version__,
        "objective": hp["objective"],
        "num_class": hp["num_class"],
        "feature_count": first.num_features(),
        # Of the first member (the only one without kfold).
        "num_boosted_rounds": first.num_boosted_rounds(),
        "best_iteration": best_iterations[0],
        "eval_metric": _primary_metric(metrics),
        "metrics": metrics,
        "hyperparameters": {k: v for k, v in hp.items() if v is not None},
        "code_files": write_code(model_dir),
    }
    kinds = ("weight",) if hp.get("booster") == "gblinear" else ("gain", "weight")  # gblinear has no gain
    importance = {kind: first.get_score(importance_type=kind) for kind in kinds}
    write_atomic(model_dir / METADATA_DIR / IMPORTANCE_FILE, json.dumps(importance, indent=1).encode())
    write_atomic(metadata_path(model_dir), json.dumps(metadata, indent=1).encode())
    print(f"model saved to {model_dir} ({', '.join(names)}; code/: {', '.join(metadata['code_files'])})",
          file=sys.stderr, flush=True)
    return metadata


def _primary_metric(metrics: dict) -> str | None:
    # xgboost's early stopping watches the last metric of the last eval set; report the same one.
    for data_name in ("validation", "train"):
        if metrics.get(data_name):
            return list(metrics[data_name])[-1]
    return None
