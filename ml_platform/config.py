"""Per-environment configuration: one YAML file per environment, one validated, typed object.

The flow is file -> `PlatformConfig` -> Stage -> Stack -> Construct. Every value is checked here,
before any construct exists, so a bad file fails with the file, the field path and the reason
instead of a CloudFormation error twenty minutes into a deployment.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from ml_platform.config_sections.base import (
    AccountId,
    LogRetentionDays,
    NamePrefix,
    RegionName,
    Section,
)
from ml_platform.config_sections.data import AnalyticsConfig, EtlConfig, StreamingConfig
from ml_platform.config_sections.delivery import PipelineConfig
from ml_platform.config_sections.features import FeaturesConfig
from ml_platform.config_sections.features_lock import LOCK_FILE, check, read_lock
from ml_platform.config_sections.foundation import AlertsConfig, BudgetConfig, CostTags, DataLakeConfig, NetworkConfig
from ml_platform.config_sections.labeling import LabelingConfig
from ml_platform.config_sections.monitoring import MonitoringConfig, monitoring_problems
from ml_platform.config_sections.serving import EndpointConfig
from ml_platform.config_sections.training import TrainingConfig
from ml_platform.config_sections.workspaces import WorkspacesConfig
from ml_platform.constructs.training.xgboost_image import XGBOOST_IMAGE_ACCOUNTS

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
ENVIRONMENTS = ("dev", "staging", "prod")


# Lambda refuses a reservation that leaves fewer unreserved concurrent executions than this.
_UNRESERVED_MINIMUM = 100


class ConfigError(Exception):
    """A configuration file is invalid; the message names the file, the field and the reason."""


class PlatformConfig(Section):
    """Everything one environment (dev, staging or prod) is built from."""

    environment: Literal["dev", "staging", "prod"]
    account: AccountId
    region: RegionName
    name_prefix: NamePrefix
    removal_policy: Literal["destroy", "retain"]
    tags: CostTags
    log_retention_days: LogRetentionDays = 365
    network: NetworkConfig
    data_lake: DataLakeConfig
    alerts: AlertsConfig
    budget: BudgetConfig
    streaming: StreamingConfig = StreamingConfig()
    etl: EtlConfig = EtlConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    training: TrainingConfig = TrainingConfig()
    endpoint: EndpointConfig = EndpointConfig()
    features: FeaturesConfig = FeaturesConfig()
    workspaces: WorkspacesConfig = WorkspacesConfig()
    labeling: LabelingConfig = LabelingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    # The account's "Concurrent executions" Lambda quota in this region (Service Quotas). New accounts
    # can start far below the usual 1000, and Lambda keeps 100 of it unreserved.
    lambda_concurrency_quota: int = Field(default=1000, ge=10)

    @model_validator(mode="after")
    def _reserved_concurrency_fits(self) -> "PlatformConfig":
        reserved = {"streaming.transform_reserved_concurrency": self.streaming.transform_reserved_concurrency,
                    "endpoint.deployer_reserved_concurrency": self.endpoint.deployer_reserved_concurrency,
                    "endpoint.api_proxy_reserved_concurrency": self.endpoint.api_proxy_reserved_concurrency}
        total = sum(v for v in reserved.values() if v)
        if total and total > self.lambda_concurrency_quota - _UNRESERVED_MINIMUM:
            named = ", ".join(f"{k}={v}" for k, v in reserved.items() if v)
            raise ValueError(f"lambda_concurrency_quota: reserved concurrency {total} ({named}) leaves less than "
                             f"the {_UNRESERVED_MINIMUM} unreserved executions Lambda requires of a quota of "
                             f"{self.lambda_concurrency_quota}; raise the quota or reserve less (null: unreserved)")
        return self

    @field_validator("region")
    @classmethod
    def _supported_region(cls, value: str) -> str:
        # Training and serving use the AWS XGBoost image, hosted in a per-region AWS account.
        if value not in XGBOOST_IMAGE_ACCOUNTS:
            raise ValueError(f"the platform does not support {value!r}: no SageMaker XGBoost image account is "
                             f"known for it (supported: {', '.join(sorted(XGBOOST_IMAGE_ACCOUNTS))}; add the "
                             "region's account to XGBOOST_IMAGE_ACCOUNTS from the SageMaker documentation)")
        return value

    @model_validator(mode="after")
    def _prod_keeps_data(self) -> "PlatformConfig":
        if self.environment == "prod" and self.removal_policy != "retain":
            raise ValueError("removal_policy: prod must retain data ('retain'), never 'destroy'")
        problems = self.features.check_names(self.name_prefix) if self.features.enabled else []
        tiers = self.data_lake.features
        if self.features.enabled and (tiers.glacier_days or tiers.expiration_days):
            # Iceberg metadata points at every live data file: an expired or archived one breaks the table.
            problems.append("data_lake.features: glacier_days and expiration_days must be unset while "
                            "features.enabled (the offline stores are Iceberg tables in this zone)")
        if problems:
            raise ValueError("features: " + "; ".join(problems))
        if self.tags.environment != self.environment:
            raise ValueError("tags.environment must equal environment")
        problems = monitoring_problems(self.monitoring, endpoint_mode=self.endpoint.mode,
                                       data_capture_percent=self.endpoint.data_capture_percent,
                                       multi_model=self.endpoint.multi_model)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def availability_zones(self) -> list[str]:
        return [f"{self.region}{letter}"
                for letter in self.network.availability_zone_letters[: self.network.az_count]]

    @property
    def destroy_on_delete(self) -> bool:
        return self.removal_policy == "destroy"


def _lists_to_tuples(data: object) -> object:
    # YAML has lists; frozen models hold tuples. Strict mode would refuse the list otherwise.
    if isinstance(data, dict):
        return {k: _lists_to_tuples(v) for k, v in data.items()}
    if isinstance(data, list):
        return tuple(_lists_to_tuples(v) for v in data)
    return data


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "<root>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; allowed keys are the fields of this section)"
        lines.append(f"  - {field}: {msg}")
    return "\n".join(lines)


def _read_mapping(path: Path, missing: str) -> dict[str, Any]:
    """The YAML file's top-level mapping, lists as tuples; ConfigError naming the file otherwise."""
    if not path.is_file():
        raise ConfigError(f"{path}: {missing}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the file must hold a mapping of settings")
    return cast(dict[str, Any], _lists_to_tuples(raw))


_SectionT = TypeVar("_SectionT", bound=Section)


def _validate(model: type[_SectionT], path: Path, raw: dict[str, Any]) -> _SectionT:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None


def load_config(environment: str, config_dir: Path = CONFIG_DIR, *, check_feature_lock: bool = True,
                lock_path: Path = LOCK_FILE, check_locks: bool = True) -> PlatformConfig:
    """Load and validate `config/<environment>.yaml`; raise ConfigError naming file, field, reason.

    With `check_feature_lock`, feature groups are also checked against the committed lock file
    (config_sections/features_lock.py), and with `check_locks` the Studio domain against its lock
    (config_sections/workspaces_lock.py): a create-only change without a version bump fails here.
    `check_locks=False` skips both (the lock writers).
    """
    path = Path(config_dir) / f"{environment}.yaml"
    raw = _read_mapping(path, f"no configuration file for environment '{environment}'")
    config = _validate(PlatformConfig, path, raw)
    if config.environment != environment:
        raise ConfigError(f"{path}: environment: is '{config.environment}' but the file is for "
                          f"'{environment}'")
    if check_locks and check_feature_lock and config.features.enabled:
        problems = check(environment, config.features, config.tags.as_dict(), read_lock(lock_path))
        if problems:
            lines = [f"{path}: feature groups do not match {lock_path.name} ({len(problems)} problem(s))"]
            lines += [f"  - {field}: {reason}" for field, reason in problems]
            raise ConfigError("\n".join(lines))
    if check_locks:
        _check_create_only_locks(config, path)
    return config


def _check_create_only_locks(config: PlatformConfig, path: Path) -> None:
    """Refuse a change that CloudFormation would make by replacing a resource whose data lives on."""
    from ml_platform.config_sections import workspaces_lock

    problems = workspaces_lock.check(config, workspaces_lock.read_lock())
    if problems:
        raise ConfigError("\n".join([f"{path}: invalid configuration ({len(problems)} problem(s))"]
                                     + [f"  - {field}: {reason}" for field, reason in problems]))


# --- Delivery pipeline (tooling account) ---------------------------------------------------------

PIPELINE_CONFIG_FILE = "pipeline.yaml"


def load_pipeline_config(config_dir: Path = CONFIG_DIR) -> PipelineConfig:
    """Load and validate `config/pipeline.yaml`; raise ConfigError naming file, field, reason."""
    path = Path(config_dir) / PIPELINE_CONFIG_FILE
    return _validate(PipelineConfig, path, _read_mapping(path, "no delivery pipeline configuration file"))
