"""The two SageMaker jobs of an active-learning round, run locally with the platform's own code:
training is `training_code/train.py` in its own process under the training contract (config files,
channels, model directory, failure file), and prediction goes through `training_code/inference.py`'s
handlers with text/csv in and text/csv out, batched the way a batch transform splits a file by line.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CODE = REPO / "training_code"


class TrainingFailed(RuntimeError):
    """train.py exited non-zero; the message is the job's failure reason."""


def hyperparameters(n_classes: int, num_round: int, seed: int) -> dict:
    """Booster settings for labeling rounds: probabilities out, one or many classes."""
    base = {"num_round": num_round, "max_depth": 4, "eta": 0.15, "subsample": 0.9, "seed": seed,
            "checkpoint_frequency": num_round}
    if n_classes == 2:
        return base | {"objective": "binary:logistic", "eval_metric": "logloss"}
    return base | {"objective": "multi:softprob", "num_class": n_classes, "eval_metric": "mlogloss"}


def train(root: Path, features: np.ndarray, labels: np.ndarray, hp: dict) -> Path:
    """Train on label-first CSV rows in a fresh job root; returns the model directory."""
    if root.exists():
        shutil.rmtree(root)
    config = root / "input" / "config"
    config.mkdir(parents=True)
    # Script mode JSON-encodes every hyperparameter value into a string; so do we.
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hp.items()}))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"train": {"ContentType": "text/csv", "TrainingInputMode": "File"}}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    channel = root / "input" / "data" / "train"
    channel.mkdir(parents=True)
    np.savetxt(channel / "train.csv", np.column_stack([labels, features]), delimiter=",", fmt="%.9g")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")} | {"OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, str(CODE / "train.py"), "--root", str(root)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        failure = root / "output" / "failure"
        reason = failure.read_text().strip() if failure.exists() else done.stderr[-500:]
        raise TrainingFailed(f"train.py exited {done.returncode}: {reason}")
    return root / "model"


def batch_transform(model_dir: Path, features: np.ndarray, rows_per_request: int = 500) -> list[str]:
    """Prediction lines as a batch transform with SplitType=Line and AssembleWith=Line writes them."""
    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    # A batch transform container runs with SAGEMAKER_BATCH=true: one answer line per record. Set only
    # while the model loads (it reads the setting then), so the calling process keeps its environment.
    inference = importlib.import_module("inference")
    previous = os.environ.get("SAGEMAKER_BATCH")
    os.environ["SAGEMAKER_BATCH"] = "true"
    try:
        model = inference.model_fn(str(model_dir))
    finally:
        if previous is None:
            os.environ.pop("SAGEMAKER_BATCH", None)
        else:
            os.environ["SAGEMAKER_BATCH"] = previous
    lines: list[str] = []
    for start in range(0, len(features), rows_per_request):
        chunk = features[start:start + rows_per_request]
        body = "\n".join(",".join(f"{v:.9g}" for v in row) for row in chunk)
        rows = inference.input_fn(body, "text/csv")
        out, _kind = inference.output_fn(inference.predict_fn(rows, model), "text/csv")
        lines.extend(out.decode().splitlines())
    return lines
