"""Where SageMaker puts things in a container, and the definitions' pieces the Proof 2 tests need.

A module of its own (not conftest): test modules import it by a name no other test folder uses.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from definitions import Synthesized  # noqa: E402

TARGET = "is_fraud"


def container_path(root: Path, local_path: str) -> Path:
    """Where `local_path` (under /opt/ml) of the container lands in the job root on this machine."""
    assert local_path.startswith("/opt/ml/"), local_path
    return root / local_path.removeprefix("/opt/ml/")


def place_code_input(prod: Synthesized, root: Path, s3_uri: str, local_path: str) -> Path:
    """An S3Prefix input naming one object: SageMaker copies it under `local_path` by its base name."""
    target = container_path(root, local_path) / s3_uri.rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(prod.asset_file(s3_uri).read_bytes())
    return target


def features_table(seed: int = 3) -> pa.Table:
    """scikit-learn's breast-cancer data (569 rows) as features-zone Parquet: named columns, the label."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    columns = {f"f{i:02d}": x[order, i] for i in range(x.shape[1])}
    return pa.table({**columns, TARGET: y[order].astype(np.int64)})


def processing_command(step: dict[str, Any]) -> list[str]:
    spec = step["Arguments"]["AppSpecification"]
    return [*spec["ContainerEntrypoint"], *spec.get("ContainerArguments", [])]


def processing_input(step: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [i for i in step["Arguments"]["ProcessingInputs"] if i["InputName"] == name]
    return found["S3Input"]


def processing_output(step: dict[str, Any], name: str) -> str:
    (found,) = [o for o in step["Arguments"]["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == name]
    return found["S3Output"]["LocalPath"]
