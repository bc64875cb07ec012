"""PutRecord from Spark partitions: a few writes in flight per partition, throttling and 5xx retried
with backoff, and one outcome row per record so the driver can keep a ledger of what was written.

Runs on the executors: everything here is picklable (module functions, plain data) and each
partition builds its own client from `client_factory` (boto3 clients do not pickle).
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

WRITTEN, REJECTED, FAILED = "written", "rejected", "failed"
OUTCOME_COLUMNS = ("record_identifier", "event_time", "status", "reason", "attempts")
RECORD_ERRORS = ("ValidationError", "ValidationException")
RETRYABLE_CODES = ("ThrottlingException", "Throttling", "ThrottledException", "ServiceUnavailable",
                   "InternalFailure", "InternalServerError", "RequestTimeout")


@dataclass(frozen=True)
class WriterSettings:
    """Group, stores and the retry policy of the backfill's writes."""

    feature_group_name: str
    target_stores: tuple[str, ...]
    max_in_flight: int = 8
    max_attempts: int = 8
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0


def featurestore_client(max_in_flight: int) -> Any:
    """The job's real client: one attempt per call (we retry), a connection per write in flight."""
    import boto3
    from botocore.config import Config

    return boto3.client("sagemaker-featurestore-runtime", config=Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=max_in_flight,
        connect_timeout=5, read_timeout=10))


def _classify(error: Exception) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in RECORD_ERRORS:
            return REJECTED
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            return FAILED
        raise error  # access denied, missing group: the whole job is misconfigured, stop it
    if isinstance(error, BotoCoreError):
        return FAILED
    raise error


def _write_one(client: Any, settings: WriterSettings, row: Any, sleep: Callable[[float], None],
               rng: random.Random) -> tuple:
    from botocore.exceptions import BotoCoreError, ClientError

    record = [{"FeatureName": p["FeatureName"], "ValueAsString": p["ValueAsString"]} for p in row["record"]]
    reason = ""
    for attempt in range(1, settings.max_attempts + 1):
        try:
            client.put_record(FeatureGroupName=settings.feature_group_name, Record=record,
                              TargetStores=list(settings.target_stores))
            return (row["record_identifier"], row["event_time"], WRITTEN, "", attempt)
        except (ClientError, BotoCoreError) as err:
            status = _classify(err)
            reason = str(err).splitlines()[0][:300]
            if status == REJECTED:
                return (row["record_identifier"], row["event_time"], REJECTED, reason, attempt)
        if attempt < settings.max_attempts:
            sleep(rng.uniform(0, min(settings.max_delay_s, settings.base_delay_s * 2 ** (attempt - 1))))
    return (row["record_identifier"], row["event_time"], FAILED, reason, settings.max_attempts)


def write_partition(rows: Iterable[Any], *, settings: WriterSettings,
                    client_factory: Callable[[int], Any] = featurestore_client) -> Iterator[tuple]:
    """mapPartitions body: write every row, yield one OUTCOME_COLUMNS tuple per row."""
    client = client_factory(settings.max_in_flight)
    rng = random.Random()
    with ThreadPoolExecutor(max_workers=settings.max_in_flight) as pool:
        # Bounded look-ahead: at most 4 x max_in_flight rows of the partition are held at once.
        pending = []
        for row in rows:
            pending.append(pool.submit(_write_one, client, settings, row, time.sleep, rng))
            if len(pending) >= 4 * settings.max_in_flight:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def write_records(to_write: Any, settings: WriterSettings,
                  client_factory: Callable[[int], Any] = featurestore_client) -> Any:
    """Write a plan's records from the executors; the outcomes as a DataFrame (OUTCOME_COLUMNS)."""
    from functools import partial

    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    schema = StructType([StructField(c, IntegerType() if c == "attempts" else StringType())
                         for c in OUTCOME_COLUMNS])
    body = partial(write_partition, settings=settings, client_factory=client_factory)
    outcomes = to_write.rdd.mapPartitions(body)
    return to_write.sparkSession.createDataFrame(outcomes, schema)
