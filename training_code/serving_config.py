"""Model server settings from SAGEMAKER_* variables: standard library only, so the forking
parent in serve.py can read them without importing numpy or xgboost."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """What a worker needs to know (see serve.py for the variables behind each field)."""

    model_dir: str
    max_payload_bytes: int
    timeout_s: float
    default_accept: str
    workers: int
    nthread: int
    fast_max_rows: int | None


def settings_from(env: dict, *, root: str | None = None, workers: int = 0) -> Settings:
    """Resolve settings from SAGEMAKER_* variables; ``root`` and ``workers`` flags win."""
    cpus = os.cpu_count() or 1
    workers = max(1, workers or int(env.get("SAGEMAKER_MODEL_SERVER_WORKERS") or cpus))
    root = root or env.get("SM_ROOT") or "/opt/ml"
    fast = env.get("SERVING_FAST_MAX_ROWS")
    return Settings(
        model_dir=env.get("SM_MODEL_DIR") or os.path.join(root, "model"),
        max_payload_bytes=int(float(env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB") or 6) * 1024 * 1024),
        timeout_s=float(env.get("SAGEMAKER_MODEL_SERVER_TIMEOUT") or 60),
        default_accept=env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or "application/json",
        workers=workers,
        # The workers already fill the CPUs; more xgboost threads each would oversubscribe them.
        nthread=max(1, cpus // workers),
        fast_max_rows=None if fast in (None, "") else int(fast),
    )
