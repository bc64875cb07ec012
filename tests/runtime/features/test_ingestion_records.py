"""The pure parts of ingestion: decoding, typing each value as Feature Store takes it, and settings
errors that name the variable."""
from __future__ import annotations

import base64
import json

import pytest
from features_testkit import ENV, TARGETS

from ingestion_records import (
    KPL_MAGIC,
    Rejection,
    build_record,
    decode_event,
    event_time_value,
    feature_value,
)
from ingestion_settings import FeatureMapping, Settings, SettingsError, parse_targets

INTEGRAL = FeatureMapping("num_prev_transactions", "num_prev_transactions", "Integral", False)
FRACTIONAL = FeatureMapping("amount", "amount", "Fractional", True)
STRING = FeatureMapping("country", "country", "String", True)
TIME = FeatureMapping("event_time", "event_time", "String", True)


@pytest.mark.parametrize("feature,value,expected", [
    (INTEGRAL, 35, "35"), (INTEGRAL, "35", "35"), (INTEGRAL, 3.0, "3"), (INTEGRAL, " 7 ", "7"),
    (FRACTIONAL, 42, "42.0"), (FRACTIONAL, "1299.5", "1299.5"), (FRACTIONAL, 0.1, "0.1"),
    (STRING, "DE", "DE"),
])
def test_values_are_written_in_the_features_type(feature, value, expected):
    # GIVEN a JSON value of an accepted shape WHEN it is typed THEN Feature Store gets this string
    assert feature_value(value, feature) == expected


@pytest.mark.parametrize("feature,value,reason", [
    (INTEGRAL, 3.5, "wrong_type:num_prev_transactions"), (INTEGRAL, True, "wrong_type:num_prev_transactions"),
    (INTEGRAL, 2**63, "out_of_range:num_prev_transactions"), (FRACTIONAL, "twelve", "wrong_type:amount"),
    (FRACTIONAL, float("nan"), "wrong_type:amount"), (FRACTIONAL, [1], "wrong_type:amount"),
    (STRING, 49, "wrong_type:country"),
])
def test_values_of_the_wrong_type_are_rejected_naming_feature_and_expected_type(feature, value, reason):
    # GIVEN a value the feature's type cannot hold WHEN it is typed THEN a rejection names both
    rejection = feature_value(value, feature)
    assert isinstance(rejection, Rejection) and rejection.reason == reason
    assert rejection.field == feature.name
    if reason.startswith("wrong_type"):
        assert f"expects {feature.type}" in rejection.message


@pytest.mark.parametrize("value,expected", [
    ("2024-05-01T23:59:59.999999-02:00", "2024-05-02T01:59:59.999Z"), ("2024-05-01T09:15:02Z", "2024-05-01T09:15:02.000Z"),
    (1714554902.5, "2024-05-01T09:15:02.500Z"),
])
def test_event_times_become_utc_milliseconds(value, expected):
    assert event_time_value(value, TIME) == expected


@pytest.mark.parametrize("value", ["2024-05-01T09:15:02", "yesterday", True, -5, 5e12])
def test_event_times_without_a_known_instant_are_rejected(value):
    # an ISO time without an offset could be any instant: refusing beats guessing
    assert event_time_value(value, TIME).reason == "invalid_event_time:event_time"


@pytest.mark.parametrize("data,reason", [
    ("not base64!", "invalid_base64"), (base64.b64encode(KPL_MAGIC + b"xx").decode(), "kpl_aggregated"),
    (base64.b64encode(b"[1, 2]").decode(), "not_an_object"), (base64.b64encode(b"{").decode(), "invalid_json"),
])
def test_undecodable_records_are_rejected_with_a_reason(data, reason):
    assert decode_event(data).reason == reason


def test_a_record_holds_only_present_features_and_requires_identifier_and_time():
    # GIVEN the customer-profile mapping and an event without optional features
    target = parse_targets(json.dumps(TARGETS))[1]
    event = {"customer_id": "cust-1", "event_time": "2024-05-01T00:00:00Z", "account_age_days": None}
    # THEN the record has the identifier and the time only; without the identifier it is refused
    assert [f["FeatureName"] for f in build_record(event, target)] == ["customer_id", "event_time"]
    assert build_record({"event_time": "2024-05-01T00:00:00Z"}, target).reason == "missing:customer_id"


@pytest.mark.parametrize("change,message", [
    ({"FEATURE_TARGETS": "[]"}, "FEATURE_TARGETS: expected a non-empty JSON list"),
    ({"DEAD_LETTER_QUEUE_URL": ""}, "DEAD_LETTER_QUEUE_URL: required"),
    ({"MAX_ATTEMPTS": "many"}, "MAX_ATTEMPTS: expected an integer"),
    ({"FEATURE_TARGETS": json.dumps([{**TARGETS[0], "record_identifier": "txn"}])},
     "FEATURE_TARGETS[0].record_identifier: 'txn' is not one of the mapped features"),
    ({"FEATURE_TARGETS": json.dumps([{**TARGETS[0], "target_stores": ["Online"]}])},
     "FEATURE_TARGETS[0].target_stores: each must be one of"),
])
def test_broken_settings_name_the_variable(change, message):
    # GIVEN an environment edited by hand WHEN it is parsed THEN the error names the variable and why
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Settings.from_env({**ENV, **change})
