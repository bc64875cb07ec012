"""The metric regexes for SageMaker training and tuning jobs, as a Python constant.

The data lives in metric_definitions.json (Name/Regex pairs) so CDK code can read it without
importing training code; `callbacks.format_round` prints the lines these regexes parse.
"""
from __future__ import annotations

import json
from pathlib import Path

METRIC_DEFINITIONS: list[dict[str, str]] = json.loads(
    (Path(__file__).resolve().parent / "metric_definitions.json").read_text()
)
