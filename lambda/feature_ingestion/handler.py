"""Streaming feature ingestion: Kinesis event source mapping -> SageMaker Feature Store PutRecord.

Handler `handler.handler`, invoked by an event source mapping with ReportBatchItemFailures. Each
record is decoded, mapped to every configured feature group (settings: ingestion_settings.py),
validated and written with PutRecord. Records that can never be written go to the dead-letter
queue with their reason; only records that may succeed later (throttling, 5xx, no time left) are
reported as batch item failures, from the first such record on (see ingestion_batch.py).

Standard library and the runtime's boto3 only; no payload is ever logged.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

import boto3
from botocore.config import Config

from ingestion_batch import process_batch
from ingestion_records import KinesisRecord
from ingestion_settings import Settings

# Read once per execution environment; a broken environment fails every invocation loudly.
SETTINGS = Settings.from_env(os.environ)
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_clients: dict[str, Any] = {}
_sleep = time.sleep  # a module attribute so tests can run the backoff on a fake clock


def _client(service: str) -> Any:
    if service not in _clients:
        # One attempt per call (ingestion_writer retries within the invocation's time) and
        # timeouts that add up to CALL_BUDGET_MS, so a hung call cannot outlive the invocation.
        budget_s = SETTINGS.call_budget_ms / 1000
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                        connect_timeout=budget_s / 3, read_timeout=budget_s * 2 / 3)
        _clients[service] = boto3.client(service, config=config)
    return _clients[service]


def _log(level: str, event: str, **fields: Any) -> None:
    if _LEVELS.get(level, 20) >= _LEVELS.get(SETTINGS.log_level, 20):
        sys.stdout.write(json.dumps({"level": level, "event": event, **fields}, default=str) + "\n")


def handler(event: dict, context: Any) -> dict:
    """Process one batch; returns {"batchItemFailures": [...]} (empty when all finished)."""
    started = time.perf_counter()
    items = event.get("Records") or []
    records = [KinesisRecord.from_event(item) for item in items]
    stream_arn = items[0].get("eventSourceARN", "") if items else ""
    result = process_batch(records, SETTINGS, featurestore=_client("sagemaker-featurestore-runtime"),
                           sqs=_client("sqs"), stream_arn=stream_arn,
                           remaining_ms=context.get_remaining_time_in_millis, sleep=_sleep,
                           rng=random.Random())
    level = "WARNING" if result.failures or result.dead_lettered else "INFO"
    _log(level, "batch_summary", records=len(records), written=result.written,
         dead_lettered=dict(result.dead_lettered), redeliver=len(result.failures),
         redeliver_reason=result.retry_reason, put_attempts=result.attempts,
         first_sequence=records[0].sequence_number if records else None,
         duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return {"batchItemFailures": result.failures}
