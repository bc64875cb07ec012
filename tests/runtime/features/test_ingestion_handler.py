"""The ingestion handler on recorded Kinesis event-source batches, with Stubber standing in for the
Feature Store runtime and SQS: nothing is lost, nothing blocks the shard for longer than it must."""
from __future__ import annotations

import base64
import json

from botocore.stub import ANY
from features_testkit import QUEUE_URL, STREAM_ARN

GROUPS = ("mlp-dev-transactions-v1", "mlp-dev-customer-profile-v1")
THROTTLED = {"service_error_code": "ThrottlingException", "service_message": "Rate exceeded",
             "http_status_code": 400}


def _expect_puts(stub, count: int) -> None:
    for _ in range(count):
        stub.add_response("put_record", {}, {"FeatureGroupName": ANY, "Record": ANY, "TargetStores": ANY})


def _letters(sent: list[dict]) -> list[dict]:
    assert all(call["QueueUrl"] == QUEUE_URL for call in sent)
    return [json.loads(entry["MessageBody"]) for call in sent for entry in call["Entries"]]


def _sequences(event: dict, start: int = 0) -> list[dict]:
    return [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"][start:]]


def test_valid_batch_writes_every_record_to_both_groups(ingestion, aws, clock, load_event):
    # GIVEN five valid events, one of them with numbers as strings and a -02:00 offset
    fs, _, sent = aws
    event = load_event("feature_ingestion_kinesis_valid_batch.json")
    fs.add_response("put_record", {}, {"FeatureGroupName": GROUPS[0], "TargetStores": ["OnlineStore", "OfflineStore"],
                                       "Record": ANY})
    fs.add_response("put_record", {}, {"FeatureGroupName": GROUPS[1], "TargetStores": ["OnlineStore", "OfflineStore"],
                                       "Record": ANY})
    second = [
        {"FeatureName": "event_id", "ValueAsString": "txn-000102"},
        {"FeatureName": "event_time", "ValueAsString": "2024-05-02T01:59:59.999Z"},
        {"FeatureName": "customer_id", "ValueAsString": "cust-0002"},
        {"FeatureName": "merchant_id", "ValueAsString": "m-10077"},
        {"FeatureName": "merchant_category", "ValueAsString": "electronics"},
        {"FeatureName": "channel", "ValueAsString": "web"},
        {"FeatureName": "country", "ValueAsString": "US"},
        {"FeatureName": "device_type", "ValueAsString": "desktop"},
        {"FeatureName": "amount", "ValueAsString": "1299.5"}]
    fs.add_response("put_record", {}, {"FeatureGroupName": GROUPS[0], "Record": second, "TargetStores": ANY})
    fs.add_response("put_record", {}, {"FeatureGroupName": GROUPS[1], "TargetStores": ANY, "Record": [
        {"FeatureName": "customer_id", "ValueAsString": "cust-0002"},
        {"FeatureName": "event_time", "ValueAsString": "2024-05-02T01:59:59.999Z"},
        {"FeatureName": "account_age_days", "ValueAsString": "35"},
        {"FeatureName": "num_prev_transactions", "ValueAsString": "3"}]})
    # the third event has no optional features: they are left out, not sent empty
    fs.add_response("put_record", {}, {"FeatureGroupName": GROUPS[0], "TargetStores": ANY, "Record": ANY})
    fs.add_response("put_record", {}, {"FeatureGroupName": GROUPS[1], "TargetStores": ANY, "Record": [
        {"FeatureName": "customer_id", "ValueAsString": "cust-0003"},
        {"FeatureName": "event_time", "ValueAsString": "2024-05-02T00:00:00.000Z"}]})
    _expect_puts(fs, 4)
    # WHEN the handler runs
    result = ingestion.handler(event, clock)
    # THEN every record is written, nothing is dead-lettered or reported
    assert result == {"batchItemFailures": []}
    assert sent == []


def test_throttling_is_retried_with_backoff_then_succeeds(ingestion, aws, clock, load_event):
    # GIVEN Feature Store throttles the first record twice, then answers, and a 503 on a later one
    fs, _, sent = aws
    event = load_event("feature_ingestion_kinesis_valid_batch.json")
    fs.add_client_error("put_record", **THROTTLED)
    fs.add_client_error("put_record", **THROTTLED)
    _expect_puts(fs, 5)
    fs.add_client_error("put_record", service_error_code="ServiceUnavailable", http_status_code=503)
    _expect_puts(fs, 5)
    # WHEN the handler runs
    result = ingestion.handler(event, clock)
    # THEN all ten writes land, after three backoff sleeps that grow (full jitter under the caps)
    assert result == {"batchItemFailures": []}
    assert sent == []
    assert len(clock.sleeps) == 3
    assert clock.sleeps[0] <= 0.1 and clock.sleeps[1] <= 0.2 and clock.sleeps[2] <= 0.1


def test_throttling_past_the_retries_reports_that_record_and_the_rest(ingestion, aws, clock, load_event):
    # GIVEN the third record's write is throttled on all four attempts
    fs, _, sent = aws
    event = load_event("feature_ingestion_kinesis_valid_batch.json")
    _expect_puts(fs, 4)
    for _ in range(4):
        fs.add_client_error("put_record", **THROTTLED)
    # WHEN the handler runs
    result = ingestion.handler(event, clock)
    # THEN the batch stops there: that record and every later one come back; no later write was tried
    assert result == {"batchItemFailures": _sequences(event, start=2)}
    assert sent == []


def test_poison_and_wrong_type_records_go_to_the_dead_letter_queue_with_their_reason(ingestion, aws, clock,
                                                                                      load_event):
    # GIVEN a batch with truncated JSON, a wrong type, non-UTF-8 bytes and a missing event time between
    # valid records
    fs, sqs, sent = aws
    event = load_event("feature_ingestion_kinesis_mixed_batch.json")
    _expect_puts(fs, 2)   # record 0, both groups
    _expect_puts(fs, 1)   # record 2: its customer profile is valid, its transaction is not
    _expect_puts(fs, 4)   # records 3 and 6
    sqs.add_response("send_message_batch", {"Successful": [{"Id": str(i), "MessageId": f"m{i}",
                                                            "MD5OfMessageBody": "x"} for i in range(5)],
                                            "Failed": []})
    # WHEN the handler runs
    result = ingestion.handler(event, clock)
    # THEN the valid neighbours are written, nothing is redelivered, and each bad record is one letter
    # with its reason, its coordinates and its original data
    assert result == {"batchItemFailures": []}
    letters = _letters(sent)
    assert [(x["sequenceNumber"][-4:], x["reason"], x["featureGroupName"]) for x in letters] == [
        ("1001", "invalid_json", None),
        ("1002", "wrong_type:amount", GROUPS[0]),
        ("1004", "not_utf8", None),
        ("1005", "missing:event_time", GROUPS[0]),
        ("1005", "missing:event_time", GROUPS[1])]
    wrong = letters[1]
    assert wrong["field"] == "amount" and "expects Fractional" in wrong["message"]
    assert "twelve" not in wrong["message"]  # payload values never leave the envelope's data field
    assert json.loads(base64.b64decode(wrong["data"]))["amount"] == "twelve"
    assert wrong["eventSourceARN"] == STREAM_ARN and wrong["dataTruncated"] is False
    attributes = [e["MessageAttributes"]["reason"]["StringValue"] for e in sent[0]["Entries"]]
    assert attributes == [x["reason"] for x in letters]


def test_a_record_feature_store_refuses_is_dead_lettered_not_retried(ingestion, aws, clock, load_event):
    # GIVEN Feature Store answers ValidationError for the first record's transaction
    fs, sqs, sent = aws
    event = load_event("feature_ingestion_kinesis_valid_batch.json")
    fs.add_client_error("put_record", service_error_code="ValidationError", http_status_code=400,
                        service_message="EventTime is out of the allowed range")
    _expect_puts(fs, 9)
    sqs.add_response("send_message_batch", {"Successful": [], "Failed": []})
    # WHEN the handler runs
    result = ingestion.handler(event, clock)
    # THEN it is tried once, dead-lettered with Feature Store's message, and the rest is written
    assert result == {"batchItemFailures": []}
    (letter,) = _letters(sent)
    assert letter["reason"] == "rejected_by_feature_store"
    assert "out of the allowed range" in letter["message"] and letter["featureGroupName"] == GROUPS[0]


def test_a_dead_letter_that_cannot_be_sent_makes_its_record_come_back(ingestion, aws, clock, load_event):
    # GIVEN SQS is unavailable when the letters are flushed
    fs, sqs, _ = aws
    event = load_event("feature_ingestion_kinesis_mixed_batch.json")
    _expect_puts(fs, 7)
    sqs.add_client_error("send_message_batch", service_error_code="ServiceUnavailable", http_status_code=503)
    # WHEN the handler runs
    result = ingestion.handler(event, clock)
    # THEN the first bad record and everything after it are redelivered: none of them is lost
    assert result == {"batchItemFailures": _sequences(event, start=1)}


def test_empty_batch(ingestion, aws, clock, load_event):
    # GIVEN an empty Records list WHEN the handler runs THEN no call is made and nothing is reported
    assert ingestion.handler(load_event("feature_ingestion_kinesis_empty_batch.json"), clock) == {
        "batchItemFailures": []}


def test_a_batch_larger_than_the_time_left_is_cut_before_the_deadline(ingestion, aws, clock, load_event):
    # GIVEN 5.1 s left: the 3 s call budget plus the 2 s reserve fit only while more than 5 s remain,
    # and every call takes 40 ms
    fs, _, sent = aws
    event = load_event("feature_ingestion_kinesis_valid_batch.json")
    clock.remaining, clock.call_ms = 5_100, 40
    _expect_puts(fs, 3)
    # WHEN the handler runs
    result = ingestion.handler(event, clock)
    # THEN it stops in the second record (its profile write did not start) and reports it and the rest,
    # leaving the reserve for the response
    assert result == {"batchItemFailures": _sequences(event, start=1)}
    assert clock.remaining >= 2_000 and sent == []
