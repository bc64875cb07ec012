"""SageMaker Processing job: score a trained model on the test set and write `evaluation.json`.

    python evaluate.py [--model-path /opt/ml/processing/model] [--test-path /opt/ml/processing/test]
                       [--output-dir /opt/ml/processing/evaluation] [--content-type text/csv]

`--model-path` is a model.tar.gz (the training job's artifact) or a model directory (model_artifacts:
`xgboost-model`, or a kfold ensemble `xgboost-model-0..N-1`, scored by the mean of its members).
The report has the Model Registry's model-quality shape; the pipeline's condition step reads:
  binary classification  -> `binary_classification_metrics.auc.value`
  multiclass             -> `multiclass_classification_metrics.accuracy.value`
  regression             -> `regression_metrics.rmse.value`
`problem_type` and `primary_metric` (its JSON path) are in the file too.
"""
from __future__ import annotations

import xgboost_lean  # noqa: F401  (first: imports xgboost without scikit-learn; see its docstring)

# isort: split
import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import xgboost as xgb

import columnar
from data_sources import detect_content_type, list_files, read_chunks
from model_artifacts import ModelDirError, model_files
from model_metrics import binary_metrics, multiclass_metrics, regression_metrics
from sm_contract import TrainingError, write_atomic

PRIMARY = {
    "binary_classification": "binary_classification_metrics.auc.value",
    "multiclass_classification": "multiclass_classification_metrics.accuracy.value",
    "regression": "regression_metrics.rmse.value",
}


def _load(path: Path) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(path.read_bytes()))  # from bytes: no guessing from the extension
    return booster


def load_boosters(model_path: Path) -> list[xgb.Booster]:
    """The model's booster(s) from a directory or a model.tar.gz: one, or the kfold ensemble's members."""
    if model_path.is_file() and tarfile.is_tarfile(model_path):
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(model_path) as archive:
            archive.extractall(tmp, filter="data")
            return load_boosters(Path(tmp))
    if model_path.is_file():
        return [_load(model_path)]
    try:
        return [_load(path) for path in model_files(model_path)]
    except ModelDirError as err:
        tars = sorted(model_path.glob("*.tar.gz")) if model_path.is_dir() else []
        if tars:
            return load_boosters(tars[0])
        raise TrainingError(str(err)) from None


def load_test(test_path: Path, content_type: str | None) -> tuple[np.ndarray, object]:
    """All test rows (label, features); the test set is assumed to fit in memory."""
    files = list_files(test_path) if test_path.is_dir() else [test_path]
    if not files:
        raise TrainingError(f"no test files under {test_path}")
    kind = detect_content_type(files, content_type)
    chunks = [c for f in files for c in read_chunks(f, kind)]
    labels = np.concatenate([c.label for c in chunks])
    if not sp.issparse(chunks[0].features):
        return labels, np.concatenate([columnar.dense(c.features) for c in chunks])
    width = max(c.features.shape[1] for c in chunks)
    return labels, sp.vstack([sp.csr_matrix(c.features, shape=(c.features.shape[0], width)) for c in chunks])


def evaluate(boosters: list[xgb.Booster], labels: np.ndarray, features) -> dict:
    """Predict (the mean over a kfold ensemble's members) and compute the report for the objective."""
    booster = boosters[0]
    config = json.loads(booster.save_config())["learner"]
    objective = config["objective"]["name"]
    n_features = booster.num_features()
    if features.shape[1] != n_features:
        raise TrainingError(f"test data has {features.shape[1]} features, the model expects {n_features}")
    dmatrix = xgb.DMatrix(features)
    pred = np.mean([member.predict(dmatrix) for member in boosters], axis=0)
    if objective.startswith("binary:"):
        problem = "binary_classification"
        report = binary_metrics(labels, pred if objective == "binary:logistic" else 1 / (1 + np.exp(-pred)))
    elif objective.startswith("multi:"):
        problem = "multiclass_classification"
        n_class = int(config["learner_model_param"]["num_class"])
        prob = pred if pred.ndim == 2 else np.eye(n_class)[pred.astype(np.int64)]
        report = multiclass_metrics(labels, prob)
    else:
        problem = "regression"
        report = regression_metrics(labels, pred)
    return {"problem_type": problem, "objective": objective, "primary_metric": PRIMARY[problem],
            "test_rows": int(len(labels)), **report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", default="/opt/ml/processing/model", type=Path)
    parser.add_argument("--test-path", default="/opt/ml/processing/test", type=Path)
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation", type=Path)
    parser.add_argument("--content-type", default=None)
    args = parser.parse_args(argv)
    try:
        boosters = load_boosters(args.model_path)
        report = evaluate(boosters, *load_test(args.test_path, args.content_type))
    except TrainingError as err:
        print(f"evaluation failed: {err}", file=sys.stderr)
        return 1
    write_atomic(args.output_dir / "evaluation.json", json.dumps(report, indent=1).encode())
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
