"""Dead-letter envelopes for records that can never be written, sent to SQS in batches.

Each envelope carries the reason, the feature it concerns, the Kinesis coordinates (stream,
shard, sequence number, partition key) and the original data (base64), so a fixed record can be
replayed onto the stream. An envelope that would pass the queue's message size keeps the
coordinates and a SHA-256 of the data instead of the data: the record can then be read again
from the stream with GetRecords while the stream still retains it.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ingestion_records import KinesisRecord, Rejection

BATCH_ENTRIES = 10  # SendMessageBatch takes at most 10 entries


@dataclass(frozen=True)
class DeadLetter:
    """One record (index in the batch) refused for one feature group."""

    index: int
    record: KinesisRecord
    rejection: Rejection
    feature_group_name: str | None


def envelope(letter: DeadLetter, *, stream_arn: str, max_bytes: int) -> str:
    """The message body: JSON, at most `max_bytes` bytes."""
    body: dict[str, Any] = {
        "reason": letter.rejection.reason, "field": letter.rejection.field,
        "message": letter.rejection.message, "featureGroupName": letter.feature_group_name,
        "eventSourceARN": stream_arn, "eventID": letter.record.event_id,
        "sequenceNumber": letter.record.sequence_number, "partitionKey": letter.record.partition_key,
        "approximateArrivalTimestamp": letter.record.arrival_timestamp,
        "dataSha256": _sha256(letter.record.data_b64), "dataTruncated": False, "data": letter.record.data_b64,
    }
    text = json.dumps(body, separators=(",", ":"))
    if len(text.encode("utf-8")) > max_bytes:
        body.update(data=None, dataTruncated=True)
        text = json.dumps(body, separators=(",", ":"))
    return text


def _sha256(data_b64: str) -> str:
    try:
        raw = base64.b64decode(data_b64)
    except ValueError:
        raw = data_b64.encode("utf-8", "replace")
    return hashlib.sha256(raw).hexdigest()


def batches(bodies: list[tuple[int, str]], max_bytes: int) -> list[list[tuple[int, str]]]:
    """Group (index, body) into SendMessageBatch calls: <= 10 entries and <= max_bytes in all."""
    groups: list[list[tuple[int, str]]] = []
    size = 0
    for item in bodies:
        length = len(item[1].encode("utf-8"))
        if not groups or len(groups[-1]) == BATCH_ENTRIES or size + length > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += length
    return groups


def send(sqs: Any, queue_url: str, letters: list[DeadLetter], *, stream_arn: str, max_bytes: int) -> int | None:
    """Send every letter in order; returns the batch index of the first record whose letter did
    not reach the queue (that record must be delivered again), or None when all arrived.

    Sending stops at the first failed call: letters after it would be sent again when Lambda
    redelivers, and duplicates in the queue are worse than one more redelivery.
    """
    bodies = [(n, envelope(letter, stream_arn=stream_arn, max_bytes=max_bytes)) for n, letter in enumerate(letters)]
    for group in batches(bodies, max_bytes):
        entries = [{"Id": str(n), "MessageBody": body,
                    "MessageAttributes": {"reason": {"DataType": "String",
                                                     "StringValue": letters[n].rejection.reason}}}
                   for n, body in group]
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError):  # the record is redelivered, never lost
            return letters[group[0][0]].index
        failed = [int(f["Id"]) for f in response.get("Failed") or []]
        if failed:
            return letters[min(failed)].index
    return None
