"""Pure functions: a Kinesis record -> the event it carries -> one Feature Store record per group.

Nothing here does I/O. A record that cannot become a valid Feature Store record comes back as a
`Rejection` with a reason code (`invalid_base64`, `wrong_type:amount`, ...), the feature or field it
concerns and a one-line message that never contains the payload (events carry card holder data).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestion_settings import FeatureMapping, Target

# The Kinesis Producer Library's aggregated records start with these bytes; this function reads
# plain JSON records only, so an aggregated one is rejected with a reason instead of misread.
KPL_MAGIC = b"\xf3\x89\x9a\xc2"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Feature Store's ValueAsString limit (PutRecord API reference).
MAX_VALUE_CHARS = 358_400
_MISSING = object()


@dataclass(frozen=True)
class Rejection:
    """Why a record (or its record for one group) can never be written."""

    reason: str
    field: str | None
    message: str


@dataclass(frozen=True)
class KinesisRecord:
    """The parts of one Kinesis event-source record the handler uses."""

    sequence_number: str
    partition_key: str
    data_b64: str
    event_id: str
    arrival_timestamp: float | None

    @classmethod
    def from_event(cls, item: dict) -> KinesisRecord:
        """One element of the event's `Records` list."""
        kinesis = item.get("kinesis") or {}
        return cls(sequence_number=str(kinesis.get("sequenceNumber", "")),
                   partition_key=str(kinesis.get("partitionKey", "")), data_b64=kinesis.get("data") or "",
                   event_id=str(item.get("eventID", "")),
                   arrival_timestamp=kinesis.get("approximateArrivalTimestamp"))


def decode_event(data_b64: str) -> dict | Rejection:
    """base64 -> UTF-8 -> one JSON object."""
    try:
        raw = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        return Rejection("invalid_base64", None, "record data is not valid base64")
    if raw.startswith(KPL_MAGIC):
        return Rejection("kpl_aggregated", None, "KPL-aggregated record: producers must send plain JSON records")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return Rejection("not_utf8", None, f"record data is not UTF-8 (byte {err.start})")
    try:
        event = json.loads(text)
    except json.JSONDecodeError as err:
        return Rejection("invalid_json", None, f"record data is not JSON: {err.msg} at {err.pos}")
    if not isinstance(event, dict):
        return Rejection("not_an_object", None, f"expected a JSON object, got {type(event).__name__}")
    return event


def build_record(event: dict, target: Target) -> list[dict] | Rejection:
    """The PutRecord `Record` (FeatureName/ValueAsString pairs) for one group, or why not.

    The record identifier and the event time are always required; other features are required
    when the mapping says so and otherwise left out when absent or null (Feature Store allows it).
    """
    record = []
    for feature in target.features:
        value = _lookup(event, feature.source)
        required = feature.required or feature.name in (target.record_identifier, target.event_time_feature)
        if value is _MISSING or value is None:
            if required:
                return Rejection(f"missing:{feature.name}", feature.name,
                                 f"required feature {feature.name!r} (event field {feature.source!r}) is absent")
            continue
        if feature.name == target.event_time_feature:
            text = event_time_value(value, feature)
        else:
            text = feature_value(value, feature)
        if isinstance(text, Rejection):
            return text
        record.append({"FeatureName": feature.name, "ValueAsString": text})
    return record


def _lookup(event: dict, path: str) -> Any:
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _wrong_type(feature: FeatureMapping, value: Any, detail: str = "") -> Rejection:
    shown = type(value).__name__
    return Rejection(f"wrong_type:{feature.name}", feature.name,
                     f"feature {feature.name!r} expects {feature.type}, got {shown}{detail}")


def feature_value(value: Any, feature: FeatureMapping) -> str | Rejection:
    """A JSON value as Feature Store's ValueAsString for the feature's type.

    Integral: an int, an integral float (3.0) or a string of one (producers send "35"); bools are
    refused (JSON true is not a count). Fractional: any finite number or numeric string. String:
    a string only (an id sent as a number is a producer bug worth seeing).
    """
    if isinstance(value, (dict, list)):
        return _wrong_type(feature, value)
    if feature.type == "String":
        if not isinstance(value, str):
            return _wrong_type(feature, value)
        if len(value) > MAX_VALUE_CHARS:
            return Rejection(f"too_long:{feature.name}", feature.name,
                             f"feature {feature.name!r} has {len(value)} characters (limit {MAX_VALUE_CHARS})")
        return value
    if isinstance(value, bool):
        return _wrong_type(feature, value)
    number = _number(value)
    if number is None:
        return _wrong_type(feature, value, " that is not a number" if isinstance(value, str) else "")
    if feature.type == "Fractional":
        return repr(float(number))
    if isinstance(number, float) and not number.is_integer():
        return _wrong_type(feature, value, f" with a fraction ({number})")
    integral = int(number)
    if not INT64_MIN <= integral <= INT64_MAX:
        return Rejection(f"out_of_range:{feature.name}", feature.name,
                         f"feature {feature.name!r} is outside the 64-bit Integral range")
    return str(integral)


def _number(value: Any) -> int | float | None:
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def event_time_value(value: Any, feature: FeatureMapping) -> str | Rejection:
    """The event time as Feature Store accepts it: `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC) for a String
    feature, Unix seconds for a Fractional one. Producers send ISO-8601 with any offset or Unix
    seconds; a time without an offset is refused (its instant is unknown)."""
    when = _instant(value)
    if when is None:
        return Rejection(f"invalid_event_time:{feature.name}", feature.name,
                         f"event time {feature.name!r} must be ISO-8601 with an offset or Unix seconds")
    if feature.type == "Fractional":
        return repr(when.timestamp())
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _instant(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value < 4_102_444_800:  # before 2100-01-01
            return None
        return datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())  # 3.11 reads a trailing Z
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
