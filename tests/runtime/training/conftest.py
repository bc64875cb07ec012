"""Training tests: put training_code/ on sys.path and build SageMaker-shaped job roots in tmp dirs."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CODE = REPO / "training_code"
sys.path.insert(0, str(CODE))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _no_sagemaker_env(monkeypatch):
    """Tests set the SageMaker variables they need; stray ones from the shell must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith(("SM_", "XGB_TRACKER")):
            monkeypatch.delenv(name)
