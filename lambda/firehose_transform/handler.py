"""Firehose data-transformation Lambda: validate and normalise card-transaction events.

Handler `handler.handler`. Settings (environment variables, all optional):
- MAX_RECORD_BYTES (default 1000000): decoded size above which a record is ProcessingFailed;
- RESPONSE_BUDGET_BYTES (default 5800000): ceiling for the serialised response, under
  Lambda's 6 MB synchronous response limit with room for framing;
- LOG_LEVEL (default INFO): DEBUG, INFO, WARNING or ERROR.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from firehose_logs import emit, level_number
from firehose_records import FAILED, build_response, duplicate_event_ids, transform_record
from firehose_schema import load_schema

# Parsed once per execution environment (cold start), not per invocation.
SCHEMA = load_schema()


@dataclass(frozen=True)
class Settings:
    """Runtime settings read from the environment."""

    max_record_bytes: int = 1_000_000
    response_budget_bytes: int = 5_800_000
    log_level: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        """Build settings from environment variables, defaulting what is absent."""
        return cls(
            max_record_bytes=int(env.get("MAX_RECORD_BYTES", cls.max_record_bytes)),
            response_budget_bytes=int(env.get("RESPONSE_BUDGET_BYTES", cls.response_budget_bytes)),
            log_level=level_number(env.get("LOG_LEVEL", "INFO")),
        )


def handler(event: dict, context: Any) -> dict:
    """Transform one Firehose batch; every recordId comes back once, in input order."""
    started = time.perf_counter()
    settings = Settings.from_env(os.environ)
    invocation = event.get("invocationId")
    outcomes = [
        transform_record(r.get("recordId"), r.get("data"), SCHEMA, settings.max_record_bytes)
        for r in event.get("records") or []
    ]
    response = build_response(outcomes, settings.response_budget_bytes)
    _log(settings.log_level, invocation, outcomes, response, started)
    return response


def _log(threshold: int, invocation: str | None, outcomes: list, response: dict, started: float) -> None:
    for o in outcomes:
        if o.result == FAILED:
            emit(threshold, "WARNING", "record_failed", invocationId=invocation,
                 recordId=o.record_id, reason=o.error.code, field=o.error.field,
                 message=o.error.message)
    dupes = duplicate_event_ids(outcomes)
    for record_id, first in dupes:
        emit(threshold, "INFO", "duplicate_event_id", invocationId=invocation,
             recordId=record_id, firstRecordId=first)
    results = Counter(o.result for o in outcomes)
    emit(threshold, "INFO", "batch_summary", invocationId=invocation,
         records=len(outcomes), ok=results["Ok"], dropped=results["Dropped"],
         failed=results[FAILED],
         failed_by_reason=dict(Counter(o.error.code for o in outcomes if o.result == FAILED)),
         duplicate_event_ids=len(dupes),
         input_bytes=sum(len(o.original_b64) for o in outcomes),
         response_bytes=sum(len(r["data"]) for r in response["records"]),
         duration_ms=round((time.perf_counter() - started) * 1000, 2))
