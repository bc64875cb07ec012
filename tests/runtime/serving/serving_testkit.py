"""Helpers for the serving tests: small real xgboost models and a real server process.

A module with a unique name (not conftest) so test modules can import it under pytest's
importlib mode; conftest.py puts this folder and training_code/ on sys.path.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import xgboost as xgb

CODE = Path(__file__).resolve().parents[3] / "training_code"

N_FEATURES = 12


def training_rows(count: int = 1500, seed: int = 0) -> np.ndarray:
    """Features with 10% missing values, so trees learn default directions both ways."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(count, N_FEATURES)).astype(np.float32)
    rows[rng.random(rows.shape) < 0.10] = np.nan
    return rows


def train(objective: str, rounds: int = 30, depth: int = 5, **params) -> xgb.Booster:
    """A real booster for ``objective`` on a signal that needs several features and splits."""
    rows = training_rows()
    x0, x1, x2 = (np.nan_to_num(rows[:, i], nan=-1.0) for i in range(3))
    signal = x0 + x1 * x2 + np.random.default_rng(1).normal(scale=0.3, size=len(rows))
    if objective.startswith("multi:"):
        label = np.digitize(signal, [-1.0, 0.0, 1.0])
        params.setdefault("num_class", 4)
    elif objective in ("binary:logistic", "binary:logitraw", "reg:logistic"):
        label = (signal > 0).astype(np.float32)
    elif objective in ("count:poisson", "reg:gamma", "reg:tweedie"):
        label = np.exp(signal / 3)
    else:
        label = 40 * signal + 100
    dtrain = xgb.DMatrix(rows, label=label)
    return xgb.train({"objective": objective, "max_depth": depth, "nthread": 1, **params},
                     dtrain, rounds)


def write_model(directory: Path, booster: xgb.Booster, **metadata) -> Path:
    """Save in train.py's layout: <dir>/xgboost-model, metadata/model-metadata.json beside it."""
    from model_artifacts import metadata_path

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "xgboost-model").write_bytes(bytes(booster.save_raw("ubj")))
    meta = {"feature_count": booster.num_features(), **metadata}
    metadata_path(directory).parent.mkdir(exist_ok=True)
    metadata_path(directory).write_text(json.dumps(meta))
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    """serve.py in a subprocess, as the container runs it, with helpers to call it."""

    def __init__(self, root: Path, env: dict | None = None, workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # A fixed small-batch size skips the crossover measurement: the tests start faster.
        full_env = {**os.environ, "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1", "SERVING_FAST_MAX_ROWS": "64",
                    **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, str(CODE / "serve.py"), "serve", "--root", str(root),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_until(self, status: int, in_a_row: int = 20, timeout: float = 60) -> None:
        """Poll /ping until it answers ``status`` ``in_a_row`` times (so every worker does)."""
        deadline, streak = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")
            streak = streak + 1 if self.get("/ping")[0] == status else 0
            if streak >= in_a_row:
                return
            time.sleep(0.02 if streak else 0.1)
        raise TimeoutError(f"/ping never answered {status} {in_a_row} times in a row")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def post(self, body, content_type: str | None = "text/csv", accept: str | None = None,
             connection=None) -> tuple[int, str | None, bytes]:
        """One POST /invocations: (status, Content-Type, body); reuses ``connection`` if given."""
        conn = connection or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {**({"Content-Type": content_type} if content_type else {}),
                   **({"Accept": accept} if accept else {})}
        conn.request("POST", "/invocations", body=body, headers=headers)
        response = conn.getresponse()
        result = response.status, response.getheader("Content-Type"), response.read()
        if connection is None:
            conn.close()
        return result

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log = self.process.stderr.read()  # what the server logged, for the tests to check
        self.process.stderr.close()
