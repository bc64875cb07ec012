"""Per-environment configuration: one YAML file per environment, one validated, typed object.

The flow is file -> `PlatformConfig` -> Stage -> Stack -> Construct. Every value is checked here,
before any construct exists, so a bad file fails with the file, the field path and the reason
instead of a CloudFormation error twenty minutes into a deployment.
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
ENVIRONMENTS = ("dev", "staging", "prod")

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)-(gov-)?[a-z]+-\d$")
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IAM_PRINCIPAL = re.compile(r"^arn:aws:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[0-9]*x?large$|^ml\.[a-z0-9]+\.(medium|large)$")

PositiveDays = Annotated[int, Field(ge=1, le=36500)]
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)


class ConfigError(Exception):
    """A configuration file is invalid; the message names the file, the field and the reason."""


class _Section(BaseModel):
    # Unknown keys are typos until proven otherwise; values are never coerced across types.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CostTags(_Section):
    """Cost-allocation tags applied to every taggable resource."""

    project: str = Field(min_length=1, max_length=128)
    environment: str = Field(min_length=1, max_length=128)
    owner: str = Field(min_length=1, max_length=128)
    cost_center: str = Field(min_length=1, max_length=128)

    def as_dict(self) -> dict[str, str]:
        return {"Project": self.project, "Environment": self.environment, "Owner": self.owner,
                "CostCenter": self.cost_center}


class NetworkConfig(_Section):
    """The VPC: private isolated subnets only, reached through VPC endpoints."""

    cidr: str
    az_count: int = Field(ge=1, le=3)
    # AZ names are explicit so that synth never looks them up in the account.
    availability_zone_letters: tuple[str, ...] = ("a", "b", "c")
    flow_log_retention_days: int = 90
    nat_gateways: int = Field(default=0, ge=0, le=3)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not a valid IPv4 CIDR block ({exc})") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("VPC CIDR prefix must be between /16 and /24")
        if not net.is_private:
            raise ValueError("VPC CIDR must be a private (RFC 1918) range")
        return value

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _log_retention(value)

    @model_validator(mode="after")
    def _enough_letters(self) -> "NetworkConfig":
        if len(self.availability_zone_letters) < self.az_count:
            raise ValueError("availability_zone_letters must list at least az_count letters")
        return self


class ZoneLifecycle(_Section):
    """Storage tiers for one data-lake zone; days are counted from object creation."""

    intelligent_tiering_days: PositiveDays | None = None
    glacier_days: PositiveDays | None = None
    expiration_days: PositiveDays | None = None
    noncurrent_version_expiration_days: PositiveDays = 90

    @model_validator(mode="after")
    def _ordered(self) -> "ZoneLifecycle":
        it, gl, ex = self.intelligent_tiering_days, self.glacier_days, self.expiration_days
        if it is not None and gl is not None and gl <= it:
            raise ValueError("glacier_days must be greater than intelligent_tiering_days")
        if ex is not None and any(d is not None and ex <= d for d in (it, gl)):
            raise ValueError("expiration_days must be greater than every transition day")
        return self


class DataLakeConfig(_Section):
    raw: ZoneLifecycle
    curated: ZoneLifecycle
    features: ZoneLifecycle
    artifacts: ZoneLifecycle
    access_log_expiration_days: PositiveDays = 365


class AlertsConfig(_Section):
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value


class BudgetConfig(_Section):
    monthly_limit_usd: float = Field(gt=0)
    alert_thresholds_percent: tuple[int, ...] = (80, 100)


class StreamingConfig(_Section):
    """Kinesis Data Streams and Firehose delivery into the raw zone."""

    on_demand: bool = True
    shard_count: int = Field(default=1, ge=1, le=500)
    retention_hours: int = Field(default=24, ge=24, le=8760)
    buffer_interval_seconds: int = Field(default=300, ge=60, le=900)
    buffer_size_mib: int = Field(default=128, ge=64, le=128)
    transform_reserved_concurrency: int = Field(default=5, ge=1, le=1000)


class EtlConfig(_Section):
    """Glue Spark jobs from raw to curated to training-ready."""

    glue_version: Literal["4.0", "5.0"] = "5.0"
    worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: int = Field(default=2, ge=2, le=299)
    timeout_minutes: int = Field(default=60, ge=1, le=2880)
    minority_ratio: float = Field(default=0.2, gt=0, le=1)
    split_ratios: tuple[float, float, float] = (0.7, 0.15, 0.15)
    schedule_cron: str | None = Field(default=None, pattern=r"^cron\(.+\)$")  # Glue: cron(0 1 * * ? *)
    emr_serverless: bool = False

    @field_validator("split_ratios")
    @classmethod
    def _sum_one(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if abs(sum(value) - 1.0) > 1e-6 or min(value) <= 0:
            raise ValueError("split_ratios must be three positive numbers summing to 1")
        return value


class AnalyticsConfig(_Section):
    """Lake Formation administrators and the Athena workgroup."""

    lake_formation_admin_arns: tuple[str, ...] = ()
    athena_bytes_scanned_cutoff_mb: int = Field(default=10240, ge=10)

    @field_validator("lake_formation_admin_arns")
    @classmethod
    def _admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Lake Formation administrators are IAM users or roles; a typo here locks the lake.
        bad = [arn for arn in value if not _IAM_PRINCIPAL.match(arn)]
        if bad:
            raise ValueError(f"not IAM role or user ARNs: {bad}")
        return value


class TuningRange(_Section):
    """One hyperparameter the tuning job searches."""

    name: str = Field(pattern=r"^[a-z_]{1,64}$")
    kind: Literal["continuous", "integer"]
    min_value: float | int
    max_value: float | int
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _ordered(self) -> "TuningRange":
        if self.max_value <= self.min_value:
            raise ValueError("max_value must be greater than min_value")
        if self.scaling == "Logarithmic" and self.min_value <= 0:
            raise ValueError("Logarithmic scaling needs min_value > 0")
        return self


class TrainingConfig(_Section):
    """Training jobs: CPU (ml.c5) by default, GPU (ml.p3) where an environment asks for it."""

    instance_type: str = "ml.c5.2xlarge"
    gpu_instance_type: str = "ml.p3.2xlarge"
    use_gpu: bool = False
    instance_count: int = Field(default=1, ge=1, le=20)
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    use_spot: bool = True
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)
    max_wait_seconds: int = Field(default=7200, ge=60, le=432000)
    tuning_max_jobs: int = Field(default=10, ge=1, le=500)
    tuning_max_parallel_jobs: int = Field(default=2, ge=1, le=100)
    tuning_objective_metric: str = "validation:auc"
    min_auc_to_register: float = Field(default=0.8, ge=0, le=1)
    # EventBridge schedule expression, e.g. cron(0 3 ? * MON *); None: no scheduled retraining.
    schedule_cron: str | None = Field(default=None, pattern=r"^(cron|rate)\(.+\)$")
    # The AWS XGBoost framework image (script mode); 3.2-0 ships xgboost 3.2.0, the version
    # training_code pins, so the model is trained and served by one xgboost version.
    xgboost_framework_version: str = Field(default="3.2-0", pattern=r"^\d+\.\d+-\d+$")
    processing_instance_type: str = "ml.c5.xlarge"
    transform_instance_type: str = "ml.c5.xlarge"
    batch_transform: bool = True
    # Prefix of the features bucket the ETL writes training-ready splits to; new objects start a run.
    training_ready_prefix: str = Field(default="training-ready/", pattern=r"^[a-z0-9][a-z0-9_/-]*/$")
    # The label column preprocess.py splits on (the event schema's `is_fraud`).
    target_column: str = Field(default="is_fraud", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    tuning_objective_type: Literal["Maximize", "Minimize"] = "Maximize"
    tuning_ranges: tuple[TuningRange, ...] = (
        TuningRange(name="eta", kind="continuous", min_value=0.01, max_value=0.3, scaling="Logarithmic"),
        TuningRange(name="max_depth", kind="integer", min_value=3, max_value=10),
        TuningRange(name="min_child_weight", kind="continuous", min_value=1, max_value=10),
        TuningRange(name="subsample", kind="continuous", min_value=0.5, max_value=1.0),
    )
    # Fixed hyperparameters of every tuning trial (names follow the built-in XGBoost algorithm).
    static_hyperparameters: dict[str, str] = Field(default_factory=lambda: {
        "objective": "binary:logistic", "eval_metric": "auc", "num_round": "300",
        "early_stopping_rounds": "20"})

    @field_validator("instance_type", "gpu_instance_type", "processing_instance_type", "transform_instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not _INSTANCE.match(value):
            raise ValueError("not a SageMaker instance type (e.g. ml.c5.2xlarge)")
        return value

    @model_validator(mode="after")
    def _wait(self) -> "TrainingConfig":
        if self.use_spot and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError("max_wait_seconds must be >= max_runtime_seconds for managed spot")
        if self.tuning_max_parallel_jobs > self.tuning_max_jobs:
            raise ValueError("tuning_max_parallel_jobs must be <= tuning_max_jobs")
        return self

    @property
    def training_instance_type(self) -> str:
        """The instance type training and tuning trials run on in this environment."""
        return self.gpu_instance_type if self.use_gpu else self.instance_type


_MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]+/\d+$")
_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$")


class ScheduledScaling(_Section):
    """A capacity window (e.g. business hours) applied by Application Auto Scaling on a cron."""

    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    cron: str = Field(pattern=r"^cron\(.+\)$")  # Application Auto Scaling form: cron(0 8 ? * MON-FRI *)
    min_instances: int = Field(ge=0, le=100)
    max_instances: int = Field(ge=1, le=100)


class EndpointConfig(_Section):
    """How models are served in this environment.

    `mode`: realtime (instances, autoscaling on invocations), serverless (memory and concurrency;
    SageMaker runs it outside the VPC and without data capture), async (instances that scale to
    zero on the request backlog), none (no endpoint, no deployer).
    The stack creates the model and endpoint only when `initial_model_package_arn` (or
    `initial_model_data_url` + `image_uri`) names a model; otherwise the deployer creates it when
    a model package is approved, so a first run with an empty registry deploys nothing and fails nothing.
    """

    mode: Literal["realtime", "serverless", "async", "none"] = "realtime"
    instance_type: str = "ml.c5.large"
    min_instances: int = Field(default=1, ge=1, le=100)
    max_instances: int = Field(default=2, ge=1, le=100)
    target_invocations_per_instance: int = Field(default=100, ge=1)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    scheduled_scaling: tuple[ScheduledScaling, ...] = ()
    data_capture_percent: int = Field(default=20, ge=0, le=100)
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    serverless_max_concurrency: int = Field(default=5, ge=1, le=200)
    serverless_provisioned_concurrency: int | None = Field(default=None, ge=1, le=200)
    async_max_concurrent_invocations: int = Field(default=4, ge=1, le=1000)
    async_backlog_per_instance: int = Field(default=5, ge=1)
    rollout: Literal["all_at_once", "canary", "linear"] = "canary"
    canary_percent: int = Field(default=10, ge=1, le=50)
    linear_step_percent: int = Field(default=20, ge=10, le=50)
    rollout_wait_seconds: int = Field(default=300, ge=0, le=3600)
    baking_period_seconds: int = Field(default=600, ge=0, le=3600)
    latency_alarm_ms: int = Field(default=500, ge=1)
    error_5xx_alarm_count: int = Field(default=1, ge=1)
    multi_model: bool = False
    initial_model_package_arn: str | None = None
    initial_model_data_url: str | None = None
    image_uri: str | None = None
    auto_deploy_on_approval: bool = True
    deployer_reserved_concurrency: int = Field(default=2, ge=1, le=10)
    api_gateway: bool = False
    api_throttle_rate_per_second: float = Field(default=50, gt=0)
    api_throttle_burst: int = Field(default=100, ge=1)

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not _INSTANCE.match(value):
            raise ValueError("not a SageMaker instance type (e.g. ml.c5.large)")
        return value

    @field_validator("initial_model_package_arn")
    @classmethod
    def _package(cls, value: str | None) -> str | None:
        if value is not None and not _MODEL_PACKAGE_ARN.match(value):
            raise ValueError("not a versioned model package ARN (arn:aws:sagemaker:<region>:<account>:"
                             "model-package/<group>/<version>)")
        return value

    @field_validator("initial_model_data_url")
    @classmethod
    def _model_data(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("s3://"):
            raise ValueError("must be an s3:// URL (model.tar.gz, or a prefix for a multi-model endpoint)")
        return value

    @field_validator("image_uri")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not _ECR_IMAGE.match(value):
            raise ValueError("not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "EndpointConfig":
        if self.max_instances < self.min_instances:
            raise ValueError("max_instances must be >= min_instances")
        if self.initial_model_package_arn and self.initial_model_data_url:
            raise ValueError("name the first model once: initial_model_package_arn or initial_model_data_url")
        if self.initial_model_data_url and not self.image_uri:
            raise ValueError("initial_model_data_url needs image_uri (the container that serves it)")
        if self.multi_model and self.initial_model_package_arn:
            raise ValueError("multi_model serves every model under one prefix: use initial_model_data_url")
        if self.mode == "serverless" and self.multi_model:
            raise ValueError("serverless endpoints cannot host multiple models (multi_model)")
        for window in self.scheduled_scaling:
            if window.max_instances < window.min_instances:
                raise ValueError(f"scheduled_scaling {window.name}: max_instances must be >= min_instances")
        return self

    @property
    def has_initial_model(self) -> bool:
        return bool(self.initial_model_package_arn or self.initial_model_data_url)


class PlatformConfig(_Section):
    """Everything one environment (dev, staging or prod) is built from."""

    environment: Literal["dev", "staging", "prod"]
    account: str
    region: str
    name_prefix: str
    removal_policy: Literal["destroy", "retain"]
    tags: CostTags
    log_retention_days: int = 365
    network: NetworkConfig
    data_lake: DataLakeConfig
    alerts: AlertsConfig
    budget: BudgetConfig
    streaming: StreamingConfig = StreamingConfig()
    etl: EtlConfig = EtlConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    training: TrainingConfig = TrainingConfig()
    endpoint: EndpointConfig = EndpointConfig()

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not _ACCOUNT.match(value):
            raise ValueError("must be a 12-digit AWS account id, quoted as a string")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError("not an AWS region name (e.g. eu-west-1)")
        return value

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError("3-20 characters: lower-case letters, digits and '-', starting with a letter")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _log_retention(cls, value: int) -> int:
        return _log_retention(value)

    @model_validator(mode="after")
    def _prod_keeps_data(self) -> "PlatformConfig":
        if self.environment == "prod" and self.removal_policy != "retain":
            raise ValueError("removal_policy: prod must retain data ('retain'), never 'destroy'")
        if self.tags.environment != self.environment:
            raise ValueError("tags.environment must equal environment")
        return self

    @property
    def availability_zones(self) -> list[str]:
        return [f"{self.region}{letter}"
                for letter in self.network.availability_zone_letters[: self.network.az_count]]

    @property
    def destroy_on_delete(self) -> bool:
        return self.removal_policy == "destroy"


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs retention must be one of {LOG_RETENTION_DAYS}")
    return value


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


def load_config(environment: str, config_dir: Path = CONFIG_DIR) -> PlatformConfig:
    """Load and validate `config/<environment>.yaml`; raise ConfigError naming file, field, reason."""
    path = Path(config_dir) / f"{environment}.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: no configuration file for environment '{environment}'")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the file must hold a mapping of settings")
    raw = _lists_to_tuples(raw)
    try:
        config = PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None
    if config.environment != environment:
        raise ConfigError(f"{path}: environment: is '{config.environment}' but the file is for "
                          f"'{environment}'")
    return config


# --- Delivery pipeline (tooling account) ---------------------------------------------------------

PIPELINE_CONFIG_FILE = "pipeline.yaml"
# CodeStar Connections (older) or AWS CodeConnections ARN of the source repository's connection.
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,255}(?<!/)$")


class PipelineConfig(_Section):
    """The CI/CD pipeline in the tooling account that promotes dev -> staging -> prod.

    `connection_arn` is an existing (console-authorized) connection to the repository host;
    `approval_email`, when set, is notified when a prod promotion waits for manual approval.
    """

    account: str
    region: str
    name_prefix: str
    tags: CostTags
    connection_arn: str
    repository: str
    branch: str = "main"
    approval_email: str | None = None
    log_retention_days: int = 365

    _account = field_validator("account")(PlatformConfig._account.__func__)
    _region = field_validator("region")(PlatformConfig._region.__func__)
    _prefix = field_validator("name_prefix")(PlatformConfig._prefix.__func__)
    _log_retention = field_validator("log_retention_days")(PlatformConfig._log_retention.__func__)

    @field_validator("connection_arn")
    @classmethod
    def _connection(cls, value: str) -> str:
        if not _CONNECTION_ARN.match(value):
            raise ValueError("not a CodeConnections/CodeStar connection ARN (arn:aws:codeconnections:"
                             "<region>:<account>:connection/<uuid>)")
        return value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError("must be 'owner/name' (e.g. my-org/ml-platform)")
        return value

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not _BRANCH.match(value):
            raise ValueError("not a valid git branch name")
        return value

    @field_validator("approval_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("not an e-mail address")
        return value


def load_pipeline_config(config_dir: Path = CONFIG_DIR) -> PipelineConfig:
    """Load and validate `config/pipeline.yaml`; raise ConfigError naming file, field, reason."""
    path = Path(config_dir) / PIPELINE_CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no delivery pipeline configuration file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the file must hold a mapping of settings")
    try:
        return PipelineConfig.model_validate(_lists_to_tuples(raw))
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None
