"""Fixtures for the inference code: small real xgboost models and a real server on 127.0.0.1.

training_code/ is a SageMaker asset folder, not a package: its modules are imported the way the
container imports them, with the folder on sys.path.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import xgboost as xgb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "training_code"))
sys.path.insert(0, str(HERE))

from serving_testkit import RunningServer, train, write_model  # noqa: E402


@pytest.fixture(scope="session")
def binary_booster() -> xgb.Booster:
    return train("binary:logistic")


@pytest.fixture(scope="session")
def model_root(tmp_path_factory, binary_booster) -> Path:
    """A contract root (like /opt/ml) whose model/ holds the binary model."""
    root = tmp_path_factory.mktemp("opt_ml")
    write_model(root / "model", binary_booster, objective="binary:logistic")
    return root


@pytest.fixture(scope="session")
def server(model_root) -> RunningServer:
    """The real server on a free 127.0.0.1 port, two pre-forked workers, model loaded."""
    running = RunningServer(model_root)
    try:
        running.wait_until(200)
        yield running
    finally:
        running.stop()
