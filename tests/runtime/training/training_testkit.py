"""Helpers for the training tests: real data sets laid out as SageMaker lays out a training job."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[3]
CODE = REPO / "training_code"


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled breast-cancer data (569 x 30, binary), shuffled with a fixed seed."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(7).permutation(len(y))
    return x[order], y[order].astype(float)


def synthetic(n: int, features: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A binary problem with a non-linear signal, large enough for stable AUC comparisons."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features))
    logit = x[:, 0] - 0.8 * x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] * x[:, 4]
    y = (logit + rng.logistic(size=n) > 0).astype(float)
    return x, y


def write_csv(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """Label-first CSV without header (the built-in algorithm convention)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([y, x]), delimiter=",", fmt="%.9g")
    return path


def write_parquet(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"label": y, **{f"f{i}": x[:, i] for i in range(x.shape[1])}}), path)
    return path


def write_libsvm(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{label:g} " + " ".join(f"{j}:{v:.9g}" for j, v in enumerate(row)) for label, row in zip(y, x, strict=False)]
    path.write_text("\n".join(lines) + "\n")
    return path


def job_root(root: Path, hyperparameters: dict, content_types: dict | None = None,
             hosts: list[str] | None = None, current: str = "algo-1") -> Path:
    """Write input/config the way SageMaker script mode does (every value JSON-encoded as a string)."""
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()}))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {ch: {"ContentType": ct, "TrainingInputMode": "File"} for ch, ct in (content_types or {}).items()}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": current, "hosts": hosts or [current]}))
    return root


def channel(root: Path, name: str) -> Path:
    return root / "input" / "data" / name


def train_process(root: Path, *args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """Start train.py in its own process (the way a container runs it)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "XGB_TRACKER"))}
    full_env.update(env or {})
    full_env["PYTHONUNBUFFERED"] = "1"
    # One OpenMP thread: tiny data sets on a shared, loaded CI machine run faster without spinning threads.
    full_env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.Popen([sys.executable, str(CODE / "train.py"), "--root", str(root), *args],
                            env=full_env, text=True, **popen)


def run_train(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = train_process(root, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def validation_auc(root: Path) -> float:
    from model_artifacts import read_metadata

    return read_metadata(root / "model")["metrics"]["validation"]["auc"]
