"""Feature Store section: feature groups, their stores, streaming ingestion and compaction.

Each group becomes an AWS::SageMaker::FeatureGroup named `<name_prefix>-<name>-v<version>`.
Most of a group's properties are create-only (a change replaces the group, and with a fixed
name the replacement fails with "already exists"): such a change needs a version bump, which
`features_lock.py` enforces against the committed lock file. See docs/feature_store.md for
what a change of each property does.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ml_platform.config_sections.base import Section

# AWS's pattern for feature group and feature names (CreateFeatureGroup API reference).
FEATURE_STORE_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")
GROUP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}[a-z0-9]$")
# Columns Feature Store adds to every offline-store table.
RESERVED_FEATURE_NAMES = ("is_deleted", "write_time", "api_invocation_time")
MAX_FEATURES = 2500
EVENT_SCHEMA = Path(__file__).resolve().parents[2] / "lambda" / "firehose_transform" / "event_schema.json"
FeatureType = Literal["Integral", "Fractional", "String"]
Store = Literal["OnlineStore", "OfflineStore"]
# The curated columns the ETL's encoders read (glue_jobs/etl_stats.py FeatureSpec: numeric, one-hot,
# binary, hashed; tests/runtime/features check the two lists agree): a training set from the store
# must get each from exactly one group's offline store.
TRAINING_COLUMNS = ("amount", "account_age_days", "num_prev_transactions", "channel", "device_type",
                    "merchant_category", "country", "merchant_id")
# The curated columns the point-in-time job keeps of each label (feature_store_to_training.py);
# a group joins the labels on its record identifier, so that must be one of the two keys.
LABEL_KEYS = ("event_id", "customer_id")
LABEL_COLUMNS = ("event_id", "customer_id", "event_time", "is_fraud")
# Prefixes of the features zone the feature store's own jobs use (never a training-set prefix).
RESERVED_FEATURE_ZONE_PREFIXES = ("feature-store/", "feature-store-backfill/", "datasets/", "datasets-from-store/",
                                  "athena-results/")


class FeatureDefinition(Section):
    """One typed feature and the event field (`source`) the stream and the backfill read it from."""

    name: str = Field(pattern=FEATURE_STORE_NAME.pattern, max_length=64)
    type: FeatureType
    source: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")
    required: bool = False

    @property
    def source_field(self) -> str:
        return self.source or self.name


class OnlineStoreConfig(Section):
    """Online store: on by default, Standard storage, KMS, records expire `ttl_*` after their event time."""

    enabled: bool = True
    storage_type: Literal["Standard", "InMemory"] = "Standard"
    ttl_value: int | None = Field(default=None, ge=1)
    ttl_unit: Literal["Seconds", "Minutes", "Hours", "Days", "Weeks"] = "Days"


class GroupIngestionConfig(Section):
    """Whether the stream feeds this group, and into which stores."""

    from_stream: bool = True
    target_stores: tuple[Store, ...] = ("OnlineStore", "OfflineStore")


class FeatureGroupConfig(Section):
    """One feature group."""

    name: str = Field(pattern=GROUP_NAME.pattern)
    version: int = Field(ge=1, le=999)
    description: str = Field(min_length=1, max_length=128)
    record_identifier: str
    event_time_feature: str
    features: tuple[FeatureDefinition, ...] = Field(min_length=2, max_length=MAX_FEATURES)
    online_store: OnlineStoreConfig = OnlineStoreConfig()
    offline_store: bool = True
    ingestion: GroupIngestionConfig = GroupIngestionConfig()

    @model_validator(mode="after")
    def _consistent(self) -> FeatureGroupConfig:
        problems = _feature_problems(self)
        problems += _store_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def feature(self, name: str) -> FeatureDefinition:
        return next(f for f in self.features if f.name == name)

    def physical_name(self, name_prefix: str) -> str:
        """The FeatureGroupName: prefix, name and version (a new version is a new group)."""
        return f"{name_prefix}-{self.name}-v{self.version}"

    def table_name(self, name_prefix: str) -> str:
        """The offline store's Glue table (Glue and Athena want lower case and underscores)."""
        return self.physical_name(name_prefix).replace("-", "_")

    @property
    def training_columns(self) -> dict[str, str]:
        """Feature name -> curated column, for the features a point-in-time training set takes from
        this group (those whose source is one of TRAINING_COLUMNS; never the identifier or time)."""
        keys = (self.record_identifier, self.event_time_feature)
        return {f.name: f.source_field for f in self.features
                if f.name not in keys and f.source_field in TRAINING_COLUMNS} if self.offline_store else {}

    @property
    def join_key(self) -> str:
        """The label column this group's records are matched on: its identifier's curated column."""
        return self.feature(self.record_identifier).source_field


def _feature_problems(group: FeatureGroupConfig) -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for feature in group.features:
        # Offline-store columns are case-insensitive (Glue/Athena): Amount and amount would clash.
        key = feature.name.lower()
        if key in seen:
            problems.append(f"feature {feature.name!r}: name used twice (as {seen[key]!r}; the offline "
                            "store's columns ignore case)")
        seen[key] = feature.name
        if key in RESERVED_FEATURE_NAMES:
            problems.append(f"feature {feature.name!r}: reserved for Feature Store's own offline-store columns "
                            f"{RESERVED_FEATURE_NAMES}")
    names = {f.name for f in group.features}
    if group.record_identifier not in names:
        problems.append(f"record_identifier {group.record_identifier!r} is not one of the features")
    elif group.feature(group.record_identifier).type not in ("String", "Integral"):
        problems.append(f"record_identifier {group.record_identifier!r} must be String or Integral, got "
                        f"{group.feature(group.record_identifier).type} (a Fractional id does not compare exactly)")
    if group.event_time_feature not in names:
        problems.append(f"event_time_feature {group.event_time_feature!r} is not one of the features")
    elif group.feature(group.event_time_feature).type not in ("String", "Fractional"):
        problems.append(f"event_time_feature {group.event_time_feature!r} must be String (ISO-8601) or "
                        f"Fractional (Unix seconds), got {group.feature(group.event_time_feature).type}")
    return problems


def _store_problems(group: FeatureGroupConfig) -> list[str]:
    problems = []
    online = group.online_store
    if not online.enabled and not group.offline_store:
        problems.append("a group needs an online store, an offline store or both")
    if online.enabled and online.storage_type == "InMemory" and group.offline_store:
        problems.append("online_store.storage_type InMemory cannot be combined with an offline store "
                        "(Feature Store does not support it): use Standard or set offline_store: false")
    if online.ttl_value is not None and not online.enabled:
        problems.append("online_store.ttl_value is set but the online store is off")
    enabled = {"OnlineStore": online.enabled, "OfflineStore": group.offline_store}
    for store in group.ingestion.target_stores:
        if not enabled[store]:
            problems.append(f"ingestion.target_stores names {store}, which this group does not have")
    if not group.ingestion.target_stores:
        problems.append("ingestion.target_stores: name at least one store")
    return problems


class StreamIngestionConfig(Section):
    """The ingestion function and its Kinesis event source mapping."""

    batch_size: int = Field(default=100, ge=1, le=10000)
    maximum_batching_window_seconds: int = Field(default=1, ge=0, le=300)
    # Finite on purpose: with -1 (forever) one stuck record would block its shard forever.
    maximum_retry_attempts: int = Field(default=10, ge=0, le=10000)
    maximum_record_age_seconds: int = Field(default=3600, ge=60, le=604800)
    bisect_batch_on_error: bool = True
    parallelization_factor: int = Field(default=1, ge=1, le=10)
    starting_position: Literal["LATEST", "TRIM_HORIZON"] = "LATEST"
    timeout_seconds: int = Field(default=60, ge=15, le=900)
    memory_mb: int = Field(default=256, ge=128, le=10240)
    # Caps the function's share of the account's concurrency (shards x parallelization_factor needed).
    reserved_concurrency: int = Field(default=10, ge=1, le=1000)
    max_put_attempts: int = Field(default=5, ge=1, le=20)
    dead_letter_retention_days: int = Field(default=14, ge=1, le=14)


class FeaturesConfig(Section):
    """SageMaker Feature Store: off unless an environment declares groups."""

    enabled: bool = False
    groups: tuple[FeatureGroupConfig, ...] = ()
    ingestion: StreamIngestionConfig = StreamIngestionConfig()
    # EventBridge Scheduler expression for Iceberg OPTIMIZE/VACUUM of the offline stores; None: off.
    compaction_schedule: str | None = Field(default="cron(0 3 * * ? *)", pattern=r"^(cron|rate)\(.+\)$")
    # What the training pipeline trains on: the ETL's channels or the point-in-time set from the store.
    training_source: Literal["etl", "feature_store"] = "etl"
    # Where the point-in-time job writes its label-first CSV channels and `_SUCCESS` marker in the
    # features zone; with training_source feature_store the pipeline reads (and is started by) it.
    training_set_prefix: str = Field(default="training-ready-from-store/", pattern=r"^[a-z0-9][a-z0-9_/-]*/$")

    @model_validator(mode="after")
    def _groups(self) -> FeaturesConfig:
        if self.enabled and not self.groups:
            raise ValueError("enabled: declare at least one group under features.groups")
        names = [g.name for g in self.groups]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"groups: names used twice: {twice}")
        problems = [f"groups[{i}] ({g.name}): {p}" for i, g in enumerate(self.groups)
                    for p in _source_problems(g)]
        problems += [f"training_set_prefix: {self.training_set_prefix!r} is under {p!r}, which the feature "
                     "store's own jobs write" for p in RESERVED_FEATURE_ZONE_PREFIXES
                     if self.training_set_prefix.startswith(p) or p.startswith(self.training_set_prefix)]
        if self.training_source == "feature_store":
            problems += _training_set_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def check_names(self, name_prefix: str) -> list[str]:
        """Physical names that break AWS's pattern or 64-character limit (needs the root's prefix)."""
        return [f"groups[{i}] ({g.name}): feature group name {g.physical_name(name_prefix)!r} breaks AWS's "
                "naming rule (letters, digits, '-' and '_', at most 64 characters)"
                for i, g in enumerate(self.groups) if not FEATURE_STORE_NAME.match(g.physical_name(name_prefix))]


def _source_problems(group: FeatureGroupConfig) -> list[str]:
    """Stream-fed features must read fields the event schema has, with a compatible type."""
    if not group.ingestion.from_stream:
        return []
    fields = {f["name"]: f["type"] for f in json.loads(EVENT_SCHEMA.read_text(encoding="utf-8"))["fields"]}
    compatible = {"Integral": ("int", "bigint"), "Fractional": ("double", "int", "bigint", "timestamp"),
                  "String": ("string", "timestamp")}
    problems = []
    for feature in group.features:
        source = feature.source_field.split(".")[0]
        if source not in fields:
            problems.append(f"feature {feature.name!r}: source {source!r} is not a field of {EVENT_SCHEMA.name}")
        elif fields[source] not in compatible[feature.type]:
            problems.append(f"feature {feature.name!r}: {feature.type} cannot hold the event's {fields[source]} "
                            f"field {source!r}")
    return problems


def _training_set_problems(features: FeaturesConfig) -> list[str]:
    """With training_source feature_store: every training column from exactly one offline store,
    joined on a label key."""
    if not features.enabled:
        return ["training_source: feature_store needs features.enabled and its groups"]
    providers: dict[str, list[str]] = {c: [] for c in TRAINING_COLUMNS}
    problems = []
    for i, group in enumerate(features.groups):
        for column in group.training_columns.values():
            providers[column].append(group.name)
        if group.training_columns and group.join_key not in LABEL_KEYS:
            problems.append(f"groups[{i}] ({group.name}): training_source feature_store joins labels on the record "
                            f"identifier, whose column {group.join_key!r} is not a label key {LABEL_KEYS}")
    for column, groups in providers.items():
        if not groups:
            problems.append(f"training_source: feature_store, but no group with an offline store has a feature "
                            f"with source {column!r} (the ETL's encoders need every one of {TRAINING_COLUMNS})")
        elif len(groups) > 1:
            problems.append(f"training_source: feature_store, but groups {groups} both provide {column!r}: "
                            "keep it in one group (the point-in-time join takes each column once)")
    return problems
