"""Training section: instance types, spot, Bayesian tuning and the registration threshold."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ml_platform.config_sections.base import INSTANCE_TYPE, Section

# The AWS XGBoost image counts as the built-in algorithm: a tuning job on it accepts only the built-in's
# hyperparameter names (aws/sagemaker-python-sdk#2226), as listed in the SageMaker developer guide
# ("XGBoost hyperparameters"); train.py's own extras (checkpoint_frequency, data_cache_mb, ...) are
# therefore never sent by the pipeline.
BUILT_IN_HYPERPARAMETERS = frozenset({
    "num_class", "num_round", "alpha", "base_score", "booster", "colsample_bylevel", "colsample_bynode",
    "colsample_bytree", "csv_weights", "deterministic_histogram", "early_stopping_rounds", "eta",
    "eval_metric", "gamma", "grow_policy", "interaction_constraints", "lambda", "lambda_bias", "max_bin",
    "max_delta_step", "max_depth", "max_leaves", "min_child_weight", "monotone_constraints",
    "normalize_type", "nthread", "objective", "one_drop", "process_type", "rate_drop", "refresh_leaf",
    "sample_type", "scale_pos_weight", "seed", "single_precision_histogram", "sketch_eps", "skip_drop",
    "subsample", "tree_method", "tweedie_variance_power", "updater", "use_dask_gpu_training",
    "verbosity", "_kfold", "_num_cv_round"})


class TuningRange(Section):
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


class TrainingConfig(Section):
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
    # The account's Service Quotas value "<training instance type> for spot training job usage"
    # (new accounts often have 0 for ml.p3): what the tuning job runs at once must fit. Every shipped
    # config declares it (tests/infra/test_config_runtime_limits.py); None skips the check.
    spot_instance_quota: int | None = Field(default=None, ge=0)
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
        if not INSTANCE_TYPE.match(value):
            raise ValueError("not a SageMaker instance type (e.g. ml.c5.2xlarge)")
        return value

    @model_validator(mode="after")
    def _wait(self) -> "TrainingConfig":
        if self.use_spot and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError("max_wait_seconds must be >= max_runtime_seconds for managed spot")
        if self.tuning_max_parallel_jobs > self.tuning_max_jobs:
            raise ValueError("tuning_max_parallel_jobs must be <= tuning_max_jobs")
        self._check_spot_quota()
        unknown = sorted((set(self.static_hyperparameters) | {r.name for r in self.tuning_ranges})
                         - BUILT_IN_HYPERPARAMETERS)
        if unknown:
            raise ValueError(f"hyperparameter(s) {unknown} are not the built-in XGBoost algorithm's; tuning jobs "
                             "on the AWS XGBoost image refuse any other name")
        return self

    def _check_spot_quota(self) -> None:
        if not self.use_spot:
            return
        needed = self.tuning_max_parallel_jobs * self.instance_count
        if self.spot_instance_quota is not None and needed > self.spot_instance_quota:
            raise ValueError(f"tuning_max_parallel_jobs x instance_count = {self.tuning_max_parallel_jobs} x "
                             f"{self.instance_count} = {needed} {self.training_instance_type} spot instances, "
                             f"above spot_instance_quota {self.spot_instance_quota}: request a quota increase "
                             "or lower the parallelism")

    @property
    def training_instance_type(self) -> str:
        """The instance type training and tuning trials run on in this environment."""
        return self.gpu_instance_type if self.use_gpu else self.instance_type
