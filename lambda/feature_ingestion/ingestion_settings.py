"""Settings of the ingestion function, read once per execution environment from its environment.

The CDK app writes them from the validated feature-store configuration
(`ml_platform/config_sections/features.py`), so an error here means the function was deployed by
hand or edited in the console: it raises with the variable and the reason, and Lambda retries the
batch (nothing is dead-lettered because of a broken deployment).

- FEATURE_TARGETS (required): JSON list, one object per feature group the stream feeds:
  {"feature_group_name", "record_identifier", "event_time_feature", "target_stores": [...],
   "features": [{"name", "source", "type": "Integral|Fractional|String", "required": bool}]}
  `source` is the event field (dots reach into nested objects).
- DEAD_LETTER_QUEUE_URL (required): SQS queue for records that can never be written.
- MAX_ATTEMPTS (5), BASE_DELAY_MS (50), MAX_DELAY_MS (2000): PutRecord retries of throttling/5xx.
- CALL_BUDGET_MS (3000): the longest one AWS call may take (the clients' connect + read timeouts);
  a call starts only when that much time is left on top of RESERVE_MS.
- RESERVE_MS (3000): time kept for the dead-letter flush and the response.
- DLQ_MAX_MESSAGE_BYTES (262144): SQS message size the dead-letter envelope must fit.
- LOG_LEVEL (INFO).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

FEATURE_TYPES = ("Integral", "Fractional", "String")
TARGET_STORES = ("OnlineStore", "OfflineStore")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and the reason."""


@dataclass(frozen=True)
class FeatureMapping:
    """One feature of a group and the event field it comes from."""

    name: str
    source: str
    type: str
    required: bool


@dataclass(frozen=True)
class Target:
    """One feature group the stream writes to, and how an event becomes its record."""

    feature_group_name: str
    record_identifier: str
    event_time_feature: str
    target_stores: tuple[str, ...]
    features: tuple[FeatureMapping, ...]


@dataclass(frozen=True)
class Settings:
    """Everything the handler needs, validated."""

    targets: tuple[Target, ...]
    dead_letter_queue_url: str
    max_attempts: int = 5
    base_delay_ms: int = 50
    max_delay_ms: int = 2000
    call_budget_ms: int = 3000
    reserve_ms: int = 3000
    dlq_max_message_bytes: int = 262_144
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse and validate the environment; raises SettingsError naming the variable."""
        url = env.get("DEAD_LETTER_QUEUE_URL", "").strip()
        if not url:
            raise SettingsError("DEAD_LETTER_QUEUE_URL: required (the SQS queue for invalid records)")
        return cls(
            targets=parse_targets(env.get("FEATURE_TARGETS", "")),
            dead_letter_queue_url=url,
            max_attempts=_int(env, "MAX_ATTEMPTS", cls.max_attempts, 1),
            base_delay_ms=_int(env, "BASE_DELAY_MS", cls.base_delay_ms, 1),
            max_delay_ms=_int(env, "MAX_DELAY_MS", cls.max_delay_ms, 1),
            call_budget_ms=_int(env, "CALL_BUDGET_MS", cls.call_budget_ms, 100),
            reserve_ms=_int(env, "RESERVE_MS", cls.reserve_ms, 0),
            dlq_max_message_bytes=_int(env, "DLQ_MAX_MESSAGE_BYTES", cls.dlq_max_message_bytes, 4096),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
        )


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name}: must be >= {minimum}, got {value}")
    return value


def parse_targets(raw: str) -> tuple[Target, ...]:
    """FEATURE_TARGETS JSON -> targets; every problem names the group and the field."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as err:
        raise SettingsError(f"FEATURE_TARGETS: not JSON ({err.msg})") from None
    if not isinstance(items, list) or not items:
        raise SettingsError("FEATURE_TARGETS: expected a non-empty JSON list of feature groups")
    return tuple(_target(i, item) for i, item in enumerate(items))


def _target(index: int, item: object) -> Target:
    where = f"FEATURE_TARGETS[{index}]"
    if not isinstance(item, dict):
        raise SettingsError(f"{where}: expected an object")
    for key in ("feature_group_name", "record_identifier", "event_time_feature", "features"):
        if not item.get(key):
            raise SettingsError(f"{where}.{key}: required")
    stores = tuple(item.get("target_stores") or TARGET_STORES)
    if not set(stores) <= set(TARGET_STORES):
        raise SettingsError(f"{where}.target_stores: each must be one of {TARGET_STORES}, got {list(stores)}")
    features = tuple(_feature(f"{where}.features[{j}]", f) for j, f in enumerate(item["features"]))
    names = {f.name for f in features}
    for key in ("record_identifier", "event_time_feature"):
        if item[key] not in names:
            raise SettingsError(f"{where}.{key}: {item[key]!r} is not one of the mapped features")
    time_type = next(f.type for f in features if f.name == item["event_time_feature"])
    if time_type not in ("Fractional", "String"):
        raise SettingsError(f"{where}.event_time_feature: must be Fractional or String, got {time_type}")
    return Target(feature_group_name=item["feature_group_name"], record_identifier=item["record_identifier"],
                  event_time_feature=item["event_time_feature"], target_stores=stores, features=features)


def _feature(where: str, item: object) -> FeatureMapping:
    if not isinstance(item, dict) or not item.get("name"):
        raise SettingsError(f"{where}.name: required")
    if item.get("type") not in FEATURE_TYPES:
        raise SettingsError(f"{where}.type: must be one of {FEATURE_TYPES}, got {item.get('type')!r}")
    return FeatureMapping(name=item["name"], source=item.get("source") or item["name"], type=item["type"],
                          required=bool(item.get("required", False)))
