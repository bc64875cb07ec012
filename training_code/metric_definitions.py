"""The metric regexes for SageMaker training and tuning jobs on our image, as a Python constant.

They match xgboost's native per-round line that train.py prints (`[12]<TAB>train-auc:0.98100<TAB>
validation-auc:0.97500`; CloudWatch shows the tab as `#011`), the same line the built-in
algorithm's own regexes catch, so a tuning job on the AWS image (which refuses custom definitions)
and one on our image read the same figures. The data lives in metric_definitions.json so CDK code
can read it without importing training code; `build()` regenerates it and a test keeps both equal.
"""
from __future__ import annotations

import json
from pathlib import Path

FILE = Path(__file__).resolve().parent / "metric_definitions.json"
# SageMaker takes at most 40 definitions per job: 19 metrics x 2 channels.
METRICS = ("accuracy", "auc", "aucpr", "balanced_accuracy", "error", "f1", "f1_binary", "f1_macro",
           "logloss", "mae", "map", "merror", "mlogloss", "mse", "ndcg", "precision", "r2", "recall", "rmse")
CHANNELS = ("train", "validation")
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def build() -> list[dict[str, str]]:
    """Name/Regex pairs: `<channel>:<metric>` from the latest `[round] ... <channel>-<metric>:value` line."""
    return [{"Name": f"{channel}:{metric}",
             "Regex": rf".*\[[0-9]+\].*(?:\t|#011){channel}-{metric}:{NUMBER}"}
            for channel in CHANNELS for metric in METRICS]


METRIC_DEFINITIONS: list[dict[str, str]] = json.loads(FILE.read_text())

if __name__ == "__main__":
    FILE.write_text(json.dumps(build(), indent=2) + "\n")
