"""One Kinesis batch, in sequence order: write what is valid, dead-letter what never can be,
and stop at the first record that must be delivered again.

Why stop there: with ReportBatchItemFailures Lambda restarts the shard at the LOWEST reported
sequence number and delivers every record after it again, whatever else was reported. Working
past that record would only write records twice and dead-letter them twice. So the batch is
cut at index `k` (the first record that was throttled past its retries, met no time left, or
whose dead letter did not reach the queue): records before `k` are finished (written or
dead-lettered), records from `k` on are reported and come back in the next invocation.
Writes are idempotent (same record identifier and event time), so a redelivered record that had
been written for one group before the cut is written again without harm.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ingestion_dead_letter import DeadLetter, send
from ingestion_records import KinesisRecord, Rejection, build_record, decode_event
from ingestion_settings import Settings
from ingestion_writer import REJECTED, RETRY, RetryPolicy, put_with_retry


@dataclass
class BatchResult:
    """What happened to the batch; `failures` is the handler's batchItemFailures list."""

    failures: list[dict] = field(default_factory=list)
    written: int = 0
    dead_lettered: Counter = field(default_factory=Counter)
    retry_reason: str | None = None
    attempts: int = 0


def process_batch(records: list[KinesisRecord], settings: Settings, *, featurestore: Any, sqs: Any,
                  stream_arn: str, remaining_ms: Callable[[], int], sleep: Callable[[float], None],
                  rng: random.Random) -> BatchResult:
    """Process `records` (one shard, sequence order) and say which must be delivered again."""
    policy = RetryPolicy(settings.max_attempts, settings.base_delay_ms, settings.max_delay_ms,
                         settings.call_budget_ms, settings.reserve_ms)
    result = BatchResult()
    letters: list[DeadLetter] = []
    cut = len(records)
    for index, record in enumerate(records):
        event = decode_event(record.data_b64)
        if isinstance(event, Rejection):
            letters.append(DeadLetter(index, record, event, None))
            continue
        retry = _write_all(index, record, event, settings, policy, result, letters,
                           featurestore=featurestore, remaining_ms=remaining_ms, sleep=sleep, rng=rng)
        if retry:
            cut = index
            break
    # The flush gets the reserve the write loop left; a letter that fails to arrive moves the cut.
    failed_letter = send(sqs, settings.dead_letter_queue_url, letters, stream_arn=stream_arn,
                         max_bytes=settings.dlq_max_message_bytes) if letters else None
    if failed_letter is not None and failed_letter < cut:
        cut, result.retry_reason = failed_letter, "dead_letter_not_delivered"
    for letter in letters:
        if letter.index < cut:
            result.dead_lettered[letter.rejection.reason] += 1
    result.failures = [{"itemIdentifier": r.sequence_number} for r in records[cut:]]
    return result


def _write_all(index: int, record: KinesisRecord, event: dict, settings: Settings, policy: RetryPolicy,
               result: BatchResult, letters: list[DeadLetter], *, featurestore: Any,
               remaining_ms: Callable[[], int], sleep: Callable[[float], None], rng: random.Random) -> bool:
    """Write the event to every group; True when the record must be delivered again."""
    pending: list[DeadLetter] = []
    for target in settings.targets:
        built = build_record(event, target)
        if isinstance(built, Rejection):
            pending.append(DeadLetter(index, record, built, target.feature_group_name))
            continue
        outcome = put_with_retry(featurestore, target.feature_group_name, built, target.target_stores,
                                 policy=policy, remaining_ms=remaining_ms, sleep=sleep, rng=rng)
        result.attempts += outcome.attempts
        if outcome.status == RETRY:
            result.retry_reason = outcome.reason
            return True  # its letters for other groups are sent when it comes back
        if outcome.status == REJECTED:
            pending.append(DeadLetter(index, record, Rejection(outcome.reason, None, outcome.message),
                                      target.feature_group_name))
        else:
            result.written += 1
    letters.extend(pending)
    return False
