"""`make rehearse` end to end on a small stream: every hand-off between the platform's parts, read
from the synthesized Dev templates, holds (ingestion -> ETL -> training pipeline -> endpoint)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(shutil.which("java") is None or shutil.which("unshare") is None,
                    reason="needs Java 17 (local Spark) and util-linux unshare (make test installs Java)")
def test_the_chain_from_producer_events_to_served_predictions_holds(tmp_path):
    # GIVEN a small stream of producer events, with the usual invalid and duplicate records
    root = tmp_path / "rehearsal"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # WHEN the rehearsal runs the whole chain from the synthesized Dev definitions
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "rehearse.py"), "--root", str(root), "--events", "3000"],
                            capture_output=True, text=True, timeout=1800, env=env)
    # THEN every stage passed and the figures it reports are consistent with each other
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    report = json.loads((root / "rehearsal.json").read_text())
    ingestion = report["ingestion"]["by_result"]
    assert ingestion["ProcessingFailed"] > 0 and ingestion["Ok"] > 0.95 * report["ingestion"]["records"]
    assert report["mlp-dev-raw-to-curated"]["curated_rows"] == 3000  # duplicates collapsed, invalid ones refused
    assert report["endpoint"]["max_abs_diff_vs_booster"] < 1e-6
    assert report["endpoint"]["features"] == report["mlp-dev-curated-to-features"]["feature_count"]
    assert report["batch_transform"]["auc_from_joined_output"] > 0.8
