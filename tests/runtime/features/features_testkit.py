"""Constants and the fake clock shared by the feature-store runtime tests."""
from __future__ import annotations

import json

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/mlp-dev-feature-ingestion-dlq"
STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/mlp-dev-card-transactions"
# What the CDK app renders into FEATURE_TARGETS for the dev groups (transactions, customer profile).
TARGETS = [
    {"feature_group_name": "mlp-dev-transactions-v1", "record_identifier": "event_id",
     "event_time_feature": "event_time", "target_stores": ["OnlineStore", "OfflineStore"],
     "features": [
         {"name": "event_id", "source": "event_id", "type": "String", "required": True},
         {"name": "event_time", "source": "event_time", "type": "String", "required": True},
         {"name": "customer_id", "source": "customer_id", "type": "String", "required": True},
         {"name": "merchant_id", "source": "merchant_id", "type": "String", "required": True},
         {"name": "merchant_category", "source": "merchant_category", "type": "String", "required": False},
         {"name": "channel", "source": "channel", "type": "String", "required": True},
         {"name": "country", "source": "country", "type": "String", "required": True},
         {"name": "device_type", "source": "device_type", "type": "String", "required": False},
         {"name": "amount", "source": "amount", "type": "Fractional", "required": True}]},
    {"feature_group_name": "mlp-dev-customer-profile-v1", "record_identifier": "customer_id",
     "event_time_feature": "event_time", "target_stores": ["OnlineStore", "OfflineStore"],
     "features": [
         {"name": "customer_id", "source": "customer_id", "type": "String", "required": True},
         {"name": "event_time", "source": "event_time", "type": "String", "required": True},
         {"name": "account_age_days", "source": "account_age_days", "type": "Integral", "required": False},
         {"name": "num_prev_transactions", "source": "num_prev_transactions", "type": "Integral",
          "required": False}]},
]
ENV = {"FEATURE_TARGETS": json.dumps(TARGETS), "DEAD_LETTER_QUEUE_URL": QUEUE_URL, "MAX_ATTEMPTS": "4",
       "BASE_DELAY_MS": "100", "MAX_DELAY_MS": "1000", "CALL_BUDGET_MS": "3000", "RESERVE_MS": "2000"}


class FakeClock:
    """Milliseconds of a Lambda invocation: AWS calls cost `call_ms`, sleeps cost what they sleep."""

    def __init__(self, remaining_ms: int, call_ms: int = 20):
        self.remaining = remaining_ms
        self.call_ms = call_ms
        self.sleeps: list[float] = []

    def get_remaining_time_in_millis(self) -> int:  # the LambdaContext method
        return self.remaining

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.remaining -= int(seconds * 1000)

    def charge(self, *_args, **_kwargs) -> None:
        self.remaining -= self.call_ms


def curated_rows(events: list[dict]) -> list[dict]:
    """Synthetic events as curated-zone rows: every schema column present, event_time an instant."""
    from datetime import datetime

    columns = ("event_id", "event_time", "customer_id", "merchant_id", "merchant_category", "channel",
               "country", "device_type", "amount", "account_age_days", "num_prev_transactions", "is_fraud")
    rows = []
    for event in events:
        row = {c: event.get(c) for c in columns}
        row["event_time"] = datetime.fromisoformat(event["event_time"])
        rows.append(row)
    return rows


# The curated zone's columns (lambda/firehose_transform/event_schema.json as Spark types).
CURATED_SCHEMA = ("event_id string, event_time timestamp, customer_id string, merchant_id string, "
                  "merchant_category string, channel string, country string, device_type string, amount double, "
                  "account_age_days int, num_prev_transactions int, is_fraud int")
