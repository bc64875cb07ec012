"""Structured logs: one JSON object per line on stdout (Lambda ships stdout to CloudWatch Logs).

No payloads are ever logged: events carry card holder data. Failure lines name the record,
the reason code and the field only.
"""
from __future__ import annotations

import json
import sys
from typing import Any

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def level_number(name: str) -> int:
    """LOG_LEVEL name -> number; an unknown name means INFO rather than a crash at cold start."""
    return _LEVELS.get(str(name).upper(), 20)


def emit(threshold: int, level: str, event: str, **fields: Any) -> None:
    """Write one JSON log line if `level` is at or above `threshold`."""
    if _LEVELS[level] < threshold:
        return
    line = {"level": level, "event": event, **fields}
    # sys.stdout looked up per call: tests capture it, Lambda's runtime may replace it.
    sys.stdout.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
