"""Monitoring tests: training_code/ on sys.path (the monitor runs from that bundle) and the kit."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "training_code"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
