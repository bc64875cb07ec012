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
    timeout_s: float        # the whole request (head and body) must arrive within this
    default_accept: str
    workers: int
    nthread: int
    fast_max_rows: int | None
    keepalive_s: float = 60.0   # an idle keep-alive connection is closed after this
    max_connections: int = 1024  # per worker; beyond it the worker stops accepting
    grace_s: float = 25.0       # SIGTERM: in-flight requests get this long to finish


def _number(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be positive")
    return value


def settings_from(env: dict, *, root: str | None = None, workers: int = 0) -> Settings:
    """Resolve settings from SAGEMAKER_* variables; ``root`` and ``workers`` flags win."""
    cpus = os.cpu_count() or 1
    workers = max(1, workers or int(_number(env, "SAGEMAKER_MODEL_SERVER_WORKERS", cpus)))
    root = root or env.get("SM_ROOT") or "/opt/ml"
    fast = env.get("SERVING_FAST_MAX_ROWS")
    return Settings(
        model_dir=env.get("SM_MODEL_DIR") or os.path.join(root, "model"),
        max_payload_bytes=int(_number(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", 6) * 1024 * 1024),
        timeout_s=_number(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60),
        # The built-in answers CSV when the client names no type.
        default_accept=env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or "text/csv",
        workers=workers,
        # The workers already fill the CPUs; more xgboost threads each would oversubscribe them.
        nthread=max(1, cpus // workers),
        fast_max_rows=None if fast in (None, "") else int(fast),
        keepalive_s=_number(env, "SERVING_KEEPALIVE_S", 60),
        max_connections=int(_number(env, "SERVING_MAX_CONNECTIONS", 1024)),
        grace_s=_number(env, "SERVING_GRACE_S", 25),
    )
