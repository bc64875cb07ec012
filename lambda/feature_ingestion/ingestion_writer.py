"""PutRecord with retries of throttling and server errors, bounded by the invocation's time left.

Three outcomes, because the handler treats them differently:
- WRITTEN: Feature Store took the record;
- REJECTED: Feature Store refused the record itself (ValidationError): retrying cannot help, the
  record goes to the dead-letter queue with the reason;
- RETRY: throttled, a 5xx, a network error, no time left for another attempt, or a failure that is
  not the record's fault (missing group, access denied): reported as a batch item failure so that
  Lambda delivers it again.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

WRITTEN, REJECTED, RETRY = "written", "rejected", "retry"
# Errors about the record itself; everything else is about the service or the deployment.
RECORD_ERRORS = ("ValidationError", "ValidationException")
RETRYABLE_CODES = ("ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
                   "ServiceUnavailable", "InternalFailure", "InternalServerError", "RequestTimeout")


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one record for one feature group."""

    status: str
    attempts: int
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a call starts only if `call_budget_ms + reserve_ms`
    is left, so no call can outlive the invocation (a timeout would retry the whole batch)."""

    max_attempts: int
    base_delay_ms: int
    max_delay_ms: int
    call_budget_ms: int
    reserve_ms: int

    def has_time_for_call(self, remaining_ms: int) -> bool:
        """True when one more AWS call fits in the time left."""
        return remaining_ms >= self.call_budget_ms + self.reserve_ms

    def delay_ms(self, attempt: int, rng: random.Random) -> float:
        """Sleep before attempt `attempt + 1` (attempt counts from 1)."""
        return rng.uniform(0, min(self.max_delay_ms, self.base_delay_ms * 2 ** (attempt - 1)))


def classify(error: Exception) -> tuple[str, str]:
    """(REJECTED or RETRY, reason code) for an exception from PutRecord."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        if code in RECORD_ERRORS:
            return REJECTED, "rejected_by_feature_store"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            return RETRY, f"retryable:{code}"
        # ResourceNotFound, AccessDeniedException, ...: a deployment problem, not a bad record.
        # Retried (then the event source mapping's limits and on-failure queue take over) rather
        # than dead-lettering every record of the stream.
        return RETRY, f"not_record_error:{code}"
    if isinstance(error, BotoCoreError):
        return RETRY, f"network:{type(error).__name__}"
    raise error


def put_with_retry(client: Any, feature_group_name: str, record: list[dict], target_stores: tuple[str, ...],
                   *, policy: RetryPolicy, remaining_ms: Callable[[], int], sleep: Callable[[float], None],
                   rng: random.Random) -> WriteOutcome:
    """Write one record; never raises for AWS errors (see the module docstring)."""
    attempt = 0
    reason, message = "no_time_left", "not attempted: too little time left in this invocation"
    while attempt < policy.max_attempts and policy.has_time_for_call(remaining_ms()):
        attempt += 1
        try:
            client.put_record(FeatureGroupName=feature_group_name, Record=record, TargetStores=list(target_stores))
            return WriteOutcome(WRITTEN, attempt)
        except (ClientError, BotoCoreError) as err:
            status, reason = classify(err)
            message = str(err).splitlines()[0][:500]
            if status == REJECTED:
                return WriteOutcome(REJECTED, attempt, reason, message)
        if attempt < policy.max_attempts:
            pause = policy.delay_ms(attempt, rng)
            if not policy.has_time_for_call(remaining_ms() - int(pause)):
                break
            sleep(pause / 1000)
    return WriteOutcome(RETRY, attempt, reason, message)
