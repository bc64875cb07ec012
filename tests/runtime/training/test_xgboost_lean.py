"""GIVEN scikit-learn installed (as in the AWS XGBoost image) WHEN an entry point starts
THEN xgboost loads without it, trains and predicts, and sklearn stays importable for others."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CODE = Path(__file__).resolve().parents[3] / "training_code"

PROBE = """
import json, sys
import {entry}
import numpy as np
import xgboost as xgb
x = np.arange(40, dtype=np.float32).reshape(20, 2)
booster = xgb.train({{"objective": "binary:logistic"}}, xgb.DMatrix(x, label=(x[:, 0] > 19).astype(int)), 3)
loaded = sorted(m for m in ("sklearn", "pandas") if m in sys.modules)
import sklearn  # still importable by anyone who wants it
print(json.dumps({{"loaded": loaded, "sklearn_wrapper": xgb.compat.SKLEARN_INSTALLED,
                  "predictions": len(booster.predict(xgb.DMatrix(x)))}}))
"""


def _probe(entry: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE.format(entry=entry)], cwd=CODE, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_entry_points_import_xgboost_without_sklearn_and_pandas():
    for entry in ("train", "evaluate", "serving_model"):
        assert _probe(entry) == {"loaded": [], "sklearn_wrapper": False, "predictions": 20}, entry


def test_importing_it_after_sklearn_changes_nothing():
    assert _probe("sklearn, xgboost_lean") == {"loaded": ["pandas", "sklearn"], "sklearn_wrapper": True,
                                               "predictions": 20}
