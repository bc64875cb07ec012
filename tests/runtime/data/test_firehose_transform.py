"""Firehose transform Lambda on recorded Kinesis-source Firehose events (tests/events/)."""
from __future__ import annotations

import base64
import json

import pytest

VALID = "firehose_kinesis_valid_batch.json"
MIXED = "firehose_kinesis_mixed_batch.json"

# Expected (result, failure reason, field) per record of the mixed batch, by position.
MIXED_EXPECTED = [
    ("Ok", None, None),
    ("Dropped", None, None),                      # heartbeat
    ("ProcessingFailed", "invalid_json", None),   # truncated JSON
    ("Dropped", None, None),                      # "test": true
    ("ProcessingFailed", "not_an_object", None),  # a JSON array
    ("ProcessingFailed", "wrong_type", "amount"),
    ("ProcessingFailed", "missing_required", "merchant_id"),
    ("ProcessingFailed", "out_of_range", "amount"),
    ("ProcessingFailed", "not_allowed", "channel"),
    ("ProcessingFailed", "invalid_utf8", None),
    ("ProcessingFailed", "invalid_base64", None),
    ("Ok", None, None),                           # duplicate event_id of record 0: kept
    ("ProcessingFailed", "invalid_timestamp", "event_time"),
    ("ProcessingFailed", "invalid_json", None),   # NaN
    ("ProcessingFailed", "not_allowed", "is_fraud"),
    ("ProcessingFailed", "wrong_type", "account_age_days"),
    ("ProcessingFailed", "pattern_mismatch", "country"),
    ("Ok", None, None),                           # 3 KB record under the default limit
    ("Ok", None, None),
]


def _decode(data: str) -> bytes:
    return base64.b64decode(data, validate=True)


def _log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_valid_batch_is_normalised_for_parquet_conversion(firehose_handler, load_event):
    # GIVEN a recorded batch of five valid events with untidy values
    event = load_event(VALID)

    # WHEN the transform runs
    response = firehose_handler.handler(event, None)

    # THEN every record is Ok, in order, with exactly the normalised JSON line
    assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in event["records"]]
    assert {r["result"] for r in response["records"]} == {"Ok"}
    lines = [_decode(r["data"]) for r in response["records"]]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    out = [json.loads(line) for line in lines]
    assert out[0] == {
        "event_id": "txn-000101", "event_time": "2024-05-01T09:15:02.123Z", "customer_id": "cust-0001",
        "merchant_id": "m-88412", "merchant_category": "grocery", "channel": "pos", "country": "DE",
        "device_type": "terminal", "amount": 42.17, "account_age_days": 812,
        "num_prev_transactions": 1290, "is_fraud": 0,
    }
    # trimmed, case-normalised, numeric strings coerced losslessly, offset converted to UTC,
    # microseconds truncated to milliseconds, unknown keys (user_agent) left out
    assert out[1] == {
        "event_id": "txn-000102", "event_time": "2024-05-02T01:59:59.999Z", "customer_id": "cust-0002",
        "merchant_id": "m-10077", "merchant_category": "electronics", "channel": "web", "country": "US",
        "device_type": "desktop", "amount": 1299.5, "account_age_days": 35,
        "num_prev_transactions": 3, "is_fraud": 1,
    }
    # missing, null and empty optional fields are omitted (read as null by the OpenX SerDe)
    assert out[2] == {"event_id": "txn-000103", "event_time": "2024-05-02T00:00:00.000Z",
                      "customer_id": "cust-0003", "merchant_id": "m-00001", "channel": "mobile",
                      "country": "FR", "amount": 0.0}
    assert set(out[3]) == {"event_id", "event_time", "customer_id", "merchant_id",
                           "merchant_category", "channel", "country", "amount"}
    assert out[4]["event_time"] == "2024-05-02T02:30:00.500Z"
    assert out[4]["merchant_category"] == "café"
    assert lines[4] == json.dumps(out[4], separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def test_partition_keys_are_the_utc_event_date(firehose_handler, load_event):
    # GIVEN events whose local date differs from their UTC date
    event = load_event(VALID)

    # WHEN transformed
    response = firehose_handler.handler(event, None)

    # THEN each Ok record carries event_date = UTC date of event_time for dynamic partitioning
    keys = [r["metadata"]["partitionKeys"] for r in response["records"]]
    assert keys == [{"event_date": d} for d in
                    ("2024-05-01", "2024-05-02", "2024-05-02", "2024-05-02", "2024-05-02")]


def test_mixed_batch_gives_exact_result_per_record(firehose_handler, load_event):
    # GIVEN a batch mixing valid, droppable and every kind of broken record
    event = load_event(MIXED)

    # WHEN transformed
    response = firehose_handler.handler(event, None)

    # THEN each recordId comes back exactly once, in order, with the expected result
    ids_in = [r["recordId"] for r in event["records"]]
    assert [r["recordId"] for r in response["records"]] == ids_in
    assert len(set(ids_in)) == len(ids_in)
    assert [r["result"] for r in response["records"]] == [e[0] for e in MIXED_EXPECTED]
    for got, (result, reason, field) in zip(response["records"], MIXED_EXPECTED, strict=False):
        if result == "ProcessingFailed":
            envelope = json.loads(_decode(got["data"]))
            assert (envelope["error"]["code"], envelope["error"]["field"]) == (reason, field)
            assert "metadata" not in got
    # Dropped records return their data unchanged (no partition keys needed)
    for i in (1, 3):
        assert response["records"][i]["data"] == event["records"][i]["data"]


def test_failed_record_envelope_keeps_the_original_payload(firehose_handler, load_event):
    # GIVEN a batch with broken records (truncated JSON, invalid base64)
    event = load_event(MIXED)

    # WHEN transformed
    response = firehose_handler.handler(event, None)

    # THEN the returned data of a failure names the reason and carries the original bytes,
    # whichever of the two Firehose writes to the error prefix
    envelope = json.loads(_decode(response["records"][2]["data"]))
    assert envelope["recordId"] == event["records"][2]["recordId"]
    assert envelope["error"]["message"] == "record data is not valid JSON"
    assert envelope["original_data_base64"] == event["records"][2]["data"]
    assert _decode(envelope["original_data_base64"]) == b'{"event_id": "txn-000203", "amount": 3'
    not_base64 = json.loads(_decode(response["records"][10]["data"]))
    assert not_base64["original_data_base64"] == event["records"][10]["data"]


def test_bad_record_never_changes_its_neighbours(firehose_handler, load_event):
    # GIVEN the good records of the mixed batch transformed alone, and inside the mixed batch
    mixed = load_event(MIXED)
    good_positions = [i for i, e in enumerate(MIXED_EXPECTED) if e[0] == "Ok"]
    alone = dict(mixed, records=[mixed["records"][i] for i in good_positions])

    # WHEN both batches are transformed
    in_mixed = firehose_handler.handler(mixed, None)["records"]
    by_themselves = firehose_handler.handler(alone, None)["records"]

    # THEN each good record's output is byte-identical either way
    assert [in_mixed[i] for i in good_positions] == by_themselves


def test_oversized_record_fails_without_its_payload(firehose_handler, load_event, monkeypatch):
    # GIVEN a 2 KB record limit and a batch with one ~3 KB record
    monkeypatch.setenv("MAX_RECORD_BYTES", "2048")
    event = load_event(MIXED)

    # WHEN transformed
    records = firehose_handler.handler(event, None)["records"]

    # THEN only that record fails, and its envelope omits the too-large original
    assert records[17]["result"] == "ProcessingFailed"
    envelope = json.loads(_decode(records[17]["data"]))
    assert envelope["error"]["code"] == "record_too_large"
    assert envelope["original_data_base64"] is None
    assert envelope["original_omitted"] == "record_too_large"
    assert [r["result"] for r in records[:17]] == [e[0] for e in MIXED_EXPECTED[:17]]
    assert records[18]["result"] == "Ok"


def test_response_stays_under_the_budget(firehose_handler, load_event, monkeypatch):
    # GIVEN a budget that fits the Ok data but not every failed record's original payload
    event = load_event(MIXED)
    unlimited = firehose_handler.handler(event, None)
    full_size = len(json.dumps(unlimited))
    budget = full_size - 600
    monkeypatch.setenv("RESPONSE_BUDGET_BYTES", str(budget))

    # WHEN transformed under that budget
    response = firehose_handler.handler(event, None)

    # THEN the response fits, Ok records are untouched and some envelopes drop their original
    assert len(json.dumps(response)) <= budget
    assert [r["result"] for r in response["records"]] == [e[0] for e in MIXED_EXPECTED]
    envelopes = [json.loads(_decode(r["data"])) for r in response["records"]
                 if r["result"] == "ProcessingFailed"]
    assert any(e["original_data_base64"] is None and e["original_omitted"] == "response_size"
               for e in envelopes)
    assert envelopes[0]["original_data_base64"] is not None  # earlier failures keep theirs


def test_ok_records_are_failed_not_lost_when_output_cannot_fit(firehose_handler, load_event, monkeypatch):
    # GIVEN a budget smaller than the transformed valid batch
    event = load_event(VALID)
    budget = len(json.dumps(firehose_handler.handler(event, None))) - 500
    monkeypatch.setenv("RESPONSE_BUDGET_BYTES", str(budget))

    # WHEN transformed
    records = firehose_handler.handler(event, None)["records"]

    # THEN the last records become ProcessingFailed (to the error prefix) and the rest stay Ok
    results = [r["result"] for r in records]
    assert results[0] == "Ok" and results[-1] == "ProcessingFailed"
    assert results == sorted(results, key=lambda r: r != "Ok")  # Ok first, failures at the end
    assert len(json.dumps({"records": records})) <= budget
    last = json.loads(_decode(records[-1]["data"]))
    assert last["error"]["code"] == "response_too_large"


def test_logs_are_structured_and_never_contain_payloads(firehose_handler, load_event, capsys):
    # GIVEN the mixed batch
    event = load_event(MIXED)
    capsys.readouterr()

    # WHEN transformed
    firehose_handler.handler(event, None)
    out = capsys.readouterr().out
    logs = [json.loads(line) for line in out.splitlines()]

    # THEN one line per failure, one per duplicate event_id, one batch summary with counts
    failures = [entry for entry in logs if entry["event"] == "record_failed"]
    expected_failures = [(event["records"][i]["recordId"], e[1], e[2])
                         for i, e in enumerate(MIXED_EXPECTED) if e[0] == "ProcessingFailed"]
    assert [(f["recordId"], f["reason"], f["field"]) for f in failures] == expected_failures
    dupes = [entry for entry in logs if entry["event"] == "duplicate_event_id"]
    assert [(d["recordId"], d["firstRecordId"]) for d in dupes] == [
        (event["records"][11]["recordId"], event["records"][0]["recordId"])]
    (summary,) = [entry for entry in logs if entry["event"] == "batch_summary"]
    assert (summary["records"], summary["ok"], summary["dropped"], summary["failed"]) == (19, 4, 2, 13)
    assert summary["failed_by_reason"]["invalid_json"] == 2
    assert summary["invocationId"] == event["invocationId"]
    # no payload content: neither values nor raw data
    for needle in ("cust-0100", "twelve", "GBR", "txn-000201", event["records"][0]["data"][:40]):
        assert needle not in out


def test_log_level_warning_keeps_only_failures(firehose_handler, load_event, capsys, monkeypatch):
    # GIVEN LOG_LEVEL=WARNING
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    capsys.readouterr()

    # WHEN the mixed batch is transformed
    firehose_handler.handler(load_event(MIXED), None)

    # THEN info lines (summary, duplicates) are suppressed, failure lines remain
    assert {entry["event"] for entry in _log_lines(capsys)} == {"record_failed"}


def test_empty_batch_returns_no_records(firehose_handler, load_event):
    # GIVEN an invocation with no records
    event = dict(load_event(VALID), records=[])

    # WHEN transformed THEN the response is an empty record list
    assert firehose_handler.handler(event, None) == {"records": []}


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"event_id": "a", "event_time": "2024-01-01T00:00:00Z", "customer_id": "c", "merchant_id": "m",
          "channel": "web", "country": "DE", "amount": True}, "wrong_type", "amount"),
        ({"event_id": "a", "event_time": "1999-12-31T23:59:59Z", "customer_id": "c", "merchant_id": "m",
          "channel": "web", "country": "DE", "amount": 1}, "out_of_range", "event_time"),
        ({"event_id": "a b", "event_time": "2024-01-01T00:00:00Z", "customer_id": "c", "merchant_id": "m",
          "channel": "web", "country": "DE", "amount": 1}, "pattern_mismatch", "event_id"),
        ({"event_id": "a", "event_time": "2024-01-01T00:00:00Z", "customer_id": "c", "merchant_id": "m",
          "channel": "web", "country": "DE", "amount": 1, "num_prev_transactions": 2**40},
         "out_of_range", "num_prev_transactions"),
        ({"event_id": "a", "event_time": "2024-01-01T00:00:00Z", "customer_id": "c", "merchant_id": "m",
          "channel": "web", "country": "DE", "amount": 1, "amount ": 2}, None, None),
        ({"event_id": "a", "event_time": "not a time", "customer_id": "c", "merchant_id": "m",
          "channel": "web", "country": "DE", "amount": 1}, "invalid_timestamp", "event_time"),
    ],
)
def test_schema_edge_cases(firehose_handler, load_event, payload, code, field):
    # GIVEN one record with an edge-case payload, wrapped in a recorded event envelope
    event = load_event(VALID)
    event["records"] = event["records"][:1]
    event["records"][0]["data"] = base64.b64encode(json.dumps(payload).encode()).decode()

    # WHEN transformed
    (record,) = firehose_handler.handler(event, None)["records"]

    # THEN the result names the expected reason and field (or is Ok)
    if code is None:
        assert record["result"] == "Ok"
    else:
        envelope = json.loads(_decode(record["data"]))
        assert (record["result"], envelope["error"]["code"], envelope["error"]["field"]) == (
            "ProcessingFailed", code, field)


def test_duplicate_json_key_is_rejected(firehose_handler, load_event):
    # GIVEN a record whose JSON repeats "amount" (which value would the producer mean?)
    event = load_event(VALID)
    event["records"] = event["records"][:1]
    raw = (b'{"event_id":"a","event_time":"2024-01-01T00:00:00Z","customer_id":"c","merchant_id":"m",'
           b'"channel":"web","country":"DE","amount":1,"amount":100000}')
    event["records"][0]["data"] = base64.b64encode(raw).decode()

    # WHEN transformed THEN it fails as invalid JSON rather than silently keeping one value
    (record,) = firehose_handler.handler(event, None)["records"]
    assert json.loads(_decode(record["data"]))["error"]["code"] == "invalid_json"
