"""A fingerprint of what a training job trains on: its hyperparameters and its data.

SageMaker gives every trial of a tuning job the same CheckpointConfig.S3Uri (the tuning job's
HyperParameterTrainingJobDefinition has one CheckpointConfig) and restores everything under it
into /opt/ml/checkpoints when a job starts, so one trial may find another's checkpoints there.
A checkpoint is resumed only when its fingerprint equals the job's, so a trial never continues a
booster grown with other hyperparameters or on other data.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

# Settings that change how a job runs, not the booster it grows.
OPERATIONAL = frozenset({"checkpoint_frequency", "data_cache_mb", "verbosity", "nthread", "silent",
                         "save_model_on_termination"})
SAMPLE_BYTES = 1 << 20


def _file_digest(path: Path, digest) -> None:
    size = path.stat().st_size
    digest.update(f"{path.name}\0{size}\0".encode())
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        if size > 2 * SAMPLE_BYTES:
            handle.seek(size - SAMPLE_BYTES)
        digest.update(handle.read(SAMPLE_BYTES))


def fingerprint(hp: dict, channels: dict[str, list[Path]]) -> str:
    """16 hex digits over the model-shaping hyperparameters and each channel's files (names, sizes, and
    their first and last MiB: enough to tell data sets apart without reading them whole)."""
    digest = hashlib.sha256()
    settings = {k: v for k, v in sorted(hp.items()) if k not in OPERATIONAL and v is not None}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for name in sorted(channels):
        digest.update(f"\0channel {name}\0".encode())
        for path in sorted(channels[name]):
            _file_digest(path, digest)
    return digest.hexdigest()[:16]
