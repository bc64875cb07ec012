"""Local rehearsal of the training pipeline: preprocess -> train -> evaluate, no AWS account.

    .venv/bin/python scripts/rehearse.py [--root .rehearsal]

Runs the three SageMaker entry points from training_code/ as separate processes on scikit-learn's
breast-cancer dataset (bundled with the package), laid out as SageMaker lays out the jobs:
  <root>/processing/input         preprocess input (CSV with header)
  <root>/processing/{train,validation,test}   preprocess outputs (label-first CSV, no header)
  <root>/input/config, input/data training job contract (hyperparameters as script mode encodes them)
  <root>/model/xgboost-model      the trained model (used by the inference benchmark)
  <root>/output/model.tar.gz      the artifact SageMaker would upload
  <root>/processing/evaluation/evaluation.json
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODE = REPO / "training_code"
HYPERPARAMETERS = {"objective": "binary:logistic", "eval_metric": "auc,logloss", "num_round": 200,
                   "early_stopping_rounds": 10, "max_depth": 4, "eta": 0.1, "checkpoint_frequency": 25}


def _run(script: str, *args: str, env: dict | None = None) -> None:
    cmd = [sys.executable, str(CODE / script), *args]
    print(f"$ {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, check=True, env=env)


def write_dataset(path: Path) -> None:
    """The breast-cancer table as CSV with a header, target column `target`."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def prepare_training(root: Path) -> None:
    """Lay out the training contract: config files and the train/validation channels."""
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    # Script mode JSON-encodes every value into a string; do the same so parsing is exercised.
    (config / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) for k, v in HYPERPARAMETERS.items()}))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {ch: {"ContentType": "text/csv", "TrainingInputMode": "File"} for ch in ("train", "validation")}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    for channel in ("train", "validation"):
        shutil.copytree(root / "processing" / channel, root / "input" / "data" / channel)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="preprocess -> train -> evaluate, locally")
    parser.add_argument("--root", type=Path, default=REPO / ".rehearsal")
    root = parser.parse_args(argv).root.resolve()
    shutil.rmtree(root, ignore_errors=True)
    processing = root / "processing"
    write_dataset(processing / "input" / "breast_cancer.csv")
    _run("preprocess.py", "--input-dir", str(processing / "input"), "--output-dir", str(processing),
         "--target-column", "target", "--seed", "42")
    prepare_training(root)
    _run("train.py", "--root", str(root))
    artifact = root / "output" / "model.tar.gz"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(artifact, "w:gz") as tar:
        for item in sorted((root / "model").iterdir()):
            tar.add(item, arcname=item.name)
    _run("evaluate.py", "--model-path", str(artifact), "--test-path", str(processing / "test"),
         "--output-dir", str(processing / "evaluation"))
    report = json.loads((processing / "evaluation" / "evaluation.json").read_text())
    metrics = report["binary_classification_metrics"]
    print("\nrehearsal metrics (test set):")
    for name in ("auc", "accuracy", "precision", "recall", "f1"):
        print(f"  {name:10} {metrics[name]['value']:.4f} (sd {metrics[name]['standard_deviation']:.4f})")
    print(f"model:      {root / 'model' / 'xgboost-model'}")
    print(f"artifact:   {artifact}")
    print(f"evaluation: {processing / 'evaluation' / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
