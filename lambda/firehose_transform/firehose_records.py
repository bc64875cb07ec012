"""Pure Firehose record logic: one input record -> one Outcome; outcomes -> the response.

Firehose contract relied on (Amazon Data Firehose developer guide, "Transform source data"
and "Handle failure in data transformation"):
- every input recordId must come back exactly once with `result` Ok, Dropped or
  ProcessingFailed and base64 `data`; Ok and Dropped count as processed;
- ProcessingFailed records go to the error output prefix ("processing-failed") as a JSON
  document whose `rawData` is "the base64-encoded record data", with Firehose's own
  errorCode "Lambda.ProcessingFailedStatus". The guide does not say whether rawData is the
  record as received or the `data` the function returned, so we cover both: the returned
  `data` of a failed record is a JSON envelope carrying the reason AND the original payload
  (base64), and the reason is also logged as one JSON line per failure;
- the Lambda response (synchronous invocation) is limited to 6 MB, so the response is built
  against a byte budget (see build_response).
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from firehose_schema import RecordError, Schema, matches_drop_rule, normalise

OK, DROPPED, FAILED = "Ok", "Dropped", "ProcessingFailed"
ENVELOPE_VERSION = "firehose_transform/1"
# The response envelope `{"records": []}` around the entries, with room to spare.
_RESPONSE_OVERHEAD = 64


@dataclass
class Outcome:
    """What happened to one record. `output` is the Ok line; `error` set when it failed."""

    record_id: str
    result: str
    original_b64: str
    output: bytes | None = None
    error: RecordError | None = None
    event_id: str | None = None
    partition_keys: dict[str, str] = field(default_factory=dict)


def transform_record(record_id: str, data_b64: Any, schema: Schema, max_record_bytes: int) -> Outcome:
    """Decode, validate and normalise one Firehose record. Never raises for bad data."""
    original = data_b64 if isinstance(data_b64, str) else ""
    try:
        event = _decode(data_b64, max_record_bytes)
        if matches_drop_rule(event, schema):
            return Outcome(record_id, DROPPED, original)
        clean = normalise(event, schema)
    except RecordError as err:
        return Outcome(record_id, FAILED, original, error=err)
    line = json.dumps(clean, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
    return Outcome(record_id, OK, original, output=line, event_id=clean["event_id"],
                   partition_keys={"event_date": clean["event_time"][:10]})


def _decode(data_b64: Any, max_record_bytes: int) -> dict:
    if not isinstance(data_b64, str):
        raise RecordError("invalid_base64", None, "record data is missing or not a string")
    # Check the encoded length first so an oversized record is never decoded in memory.
    if len(data_b64) > (max_record_bytes + 2) // 3 * 4:
        raise RecordError("record_too_large", None, f"record larger than {max_record_bytes} bytes")
    try:
        raw = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise RecordError("invalid_base64", None, "record data is not valid base64") from None
    if len(raw) > max_record_bytes:
        raise RecordError("record_too_large", None, f"record larger than {max_record_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError("invalid_utf8", None, "record data is not UTF-8") from None
    try:
        event = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, RecursionError):
        raise RecordError("invalid_json", None, "record data is not valid JSON") from None
    if not isinstance(event, dict):
        raise RecordError("not_an_object", None, "record JSON is not an object")
    return event


def _reject_constant(name: str) -> None:
    # json accepts NaN/Infinity by default; they are not JSON and Parquet conversion rejects them.
    raise RecordError("invalid_json", None, f"record JSON contains {name}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    # With a repeated key json keeps the last value silently; an ambiguous event is an error.
    out = dict(pairs)
    if len(out) != len(pairs):
        raise RecordError("invalid_json", None, "record JSON repeats a key")
    return out


def failure_envelope(outcome: Outcome, include_original: bool) -> bytes:
    """The `data` returned for a ProcessingFailed record: reason + (if room) the original."""
    err = outcome.error
    if err.code == "response_too_large":
        # As small as possible: this envelope replaces an Ok record to free response space.
        return b'{"error":{"code":"response_too_large"},"original_omitted":"response_size"}\n'
    body = {
        "error": {"code": err.code, "field": err.field, "message": err.message},
        "recordId": outcome.record_id,
        "transform": ENVELOPE_VERSION,
        "original_data_base64": outcome.original_b64 if include_original else None,
    }
    if not include_original:
        body["original_omitted"] = "record_too_large" if err.code == "record_too_large" else "response_size"
    return json.dumps(body, separators=(",", ":")).encode("utf-8") + b"\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _entry(outcome: Outcome, data: str) -> dict:
    entry = {"recordId": outcome.record_id, "result": outcome.result, "data": data}
    if outcome.result == OK:
        entry["metadata"] = {"partitionKeys": outcome.partition_keys}
    return entry


def _entry_size(outcome: Outcome, data: str) -> int:
    # Exact serialised size (json.dumps defaults, as the Lambda runtime serialises) + ", ".
    return len(json.dumps(_entry(outcome, data))) + 2


def build_response(outcomes: list[Outcome], budget_bytes: int) -> dict:
    """Assemble `{"records": [...]}` in input order, keeping the serialised size <= budget.

    Ok data and Dropped data (the original, returned unchanged) are mandatory. Failed records
    first get a reason-only envelope; then, in order, the original payload is added to each
    envelope while the budget allows (never for a record that failed for being too large).
    If even the mandatory part does not fit (output much larger than input), Ok records are
    turned into ProcessingFailed from the end, so they reach the error prefix, not the void.
    """
    datas: list[str] = []
    for o in outcomes:
        if o.result == OK:
            datas.append(_b64(o.output))
        elif o.result == DROPPED:
            datas.append(o.original_b64)
        else:
            datas.append(_b64(failure_envelope(o, include_original=False)))
    sizes = [_entry_size(o, d) for o, d in zip(outcomes, datas, strict=False)]
    total = sum(sizes) + _RESPONSE_OVERHEAD
    for i in range(len(outcomes) - 1, -1, -1):
        if total <= budget_bytes:
            break
        o = outcomes[i]
        if o.result == OK:
            o.result, o.output = FAILED, None
            o.error = RecordError("response_too_large", None, "transformed batch exceeds the response limit")
            datas[i] = _b64(failure_envelope(o, include_original=False))
            total -= sizes[i]
            sizes[i] = _entry_size(o, datas[i])
            total += sizes[i]
    for i, o in enumerate(outcomes):
        if o.result != FAILED or o.error.code in ("record_too_large", "response_too_large"):
            continue
        full = _b64(failure_envelope(o, include_original=True))
        if total - len(datas[i]) + len(full) <= budget_bytes:
            total += len(full) - len(datas[i])
            datas[i] = full
    return {"records": [_entry(o, d) for o, d in zip(outcomes, datas, strict=False)]}


def duplicate_event_ids(outcomes: list[Outcome]) -> list[tuple[str, str]]:
    """(recordId, first recordId) for each Ok record repeating an earlier event_id in the batch.

    Duplicates stay Ok: Kinesis and Firehose deliver at least once, so duplicates also arrive
    across batches where this function cannot see them; the curated Glue job deduplicates by
    event_id (keeping the latest), which covers both cases. Here they are only counted/logged.
    """
    first: dict[str, str] = {}
    dupes = []
    for o in outcomes:
        if o.result != OK:
            continue
        if o.event_id in first:
            dupes.append((o.record_id, first[o.event_id]))
        else:
            first[o.event_id] = o.record_id
    return dupes
