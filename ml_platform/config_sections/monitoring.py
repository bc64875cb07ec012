"""Monitoring section: which engine watches the endpoint, when, and what counts as drift.

`enabled` left unset means "monitor whenever it can": a real-time endpoint with data capture.
Set to true on an endpoint that cannot be monitored, it is refused with the reason
(`monitoring_problems`, called by the root configuration, which also sees `endpoint`).
Schedules accept only the cron forms Model Monitor accepts, for both engines, so switching
`engine` never needs another schedule.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from ml_platform.config_sections.base import INSTANCE_TYPE, Section

# Model Monitor's accepted expressions: hourly, daily at an hour, every N hours from an hour.
_HOURLY = re.compile(r"^cron\(0 \* \? \* \* \*\)$")
_DAILY = re.compile(r"^cron\(0 ([01]?\d|2[0-3]) \? \* \* \*\)$")
_EVERY = re.compile(r"^cron\(0 ([01]?\d|2[0-3])/([1-9]|1\d|2[0-4]) \? \* \* \*\)$")
CRON_FORMS = "cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H) or cron(0 H/N ? * * *) (every N hours)"
ProblemType = Literal["BinaryClassification", "MulticlassClassification", "Regression"]


def schedule_window_hours(expression: str) -> int:
    """Hours between two runs of an accepted schedule: the window each run analyses."""
    if _HOURLY.match(expression):
        return 1
    if every := _EVERY.match(expression):
        return int(every.group(2))
    if _DAILY.match(expression):
        return 24
    raise ValueError(f"not an accepted schedule: {expression}")


class ClarifyConfig(Section):
    """Bias and feature-attribution drift (Model Monitor engine only; they need SageMaker Clarify).

    Features are named by position (`_c<i>`, as in the baseline); the label is the model's output.
    `bias_facet_index` unset skips bias drift (a facet is a business decision, not a default).
    """

    bias_facet_index: int | None = Field(default=None, ge=0)
    bias_facet_threshold: float | None = None
    feature_attribution: bool = True
    shap_samples: int = Field(default=100, ge=1, le=10_000)


class MonitoringConfig(Section):
    """How the endpoint is monitored (see README "Model monitoring")."""

    enabled: bool | None = None
    engine: Literal["ours", "model_monitor"] = "ours"
    schedule: str = "cron(0 * ? * * *)"
    problem_type: ProblemType = "BinaryClassification"
    instance_type: str = "ml.m5.large"
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=3600, ge=60, le=86400)
    comparison_threshold: float = Field(default=0.1, gt=0, le=1)   # numeric drift (L-inf CDF distance)
    categorical_threshold: float = Field(default=0.1, gt=0, le=1)  # categorical drift (frequencies)
    comparison_method: Literal["Simple", "Robust"] = "Simple"
    missing_tolerance: float = Field(default=0.05, ge=0, le=1)     # completeness below baseline minus this
    datatype_threshold: float = Field(default=0.1, ge=0, le=1)
    range_threshold: float = Field(default=0.05, ge=0, le=1)       # share outside the baseline's [min, max]
    prediction_drift_threshold: float = Field(default=0.1, gt=0, le=1)
    quality_tolerance: float = Field(default=0.1, ge=0, lt=1)      # quality constraints this far below baseline
    label_lookback_hours: int = Field(default=24, ge=0, le=168)
    min_auc: float | None = Field(default=None, gt=0, le=1)        # alarm floor; None: the baseline's constraint
    retrain_on_drift: bool = False  # a drift alarm starts the training pipeline (off unless set; never set in prod)
    clarify: ClarifyConfig = ClarifyConfig()

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            schedule_window_hours(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a schedule Model Monitor accepts (rate() and other cron forms "
                             f"are refused); use {CRON_FORMS}") from None
        return value

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not INSTANCE_TYPE.match(value):
            raise ValueError("not a SageMaker instance type (e.g. ml.m5.large)")
        return value

    @property
    def window_hours(self) -> int:
        return schedule_window_hours(self.schedule)


def monitoring_problems(monitoring: MonitoringConfig, *, endpoint_mode: str, data_capture_percent: int,
                        multi_model: bool) -> list[str]:
    """Reasons this environment's endpoint cannot be monitored as configured (empty: fine)."""
    problems = []
    if monitoring.enabled:
        if endpoint_mode != "realtime":
            problems.append(f"monitoring.enabled: the endpoint is {endpoint_mode!r}; only a real-time endpoint "
                            "has data capture to monitor (serverless endpoints cannot capture)")
        elif data_capture_percent == 0:
            problems.append("monitoring.enabled: endpoint.data_capture_percent is 0; without data capture there "
                            "is nothing to monitor")
        if multi_model:
            problems.append("monitoring.enabled: a multi-model endpoint serves many models from one capture; "
                            "neither engine can tell which baseline a record belongs to")
    return problems


def monitored(monitoring: MonitoringConfig, *, endpoint_mode: str, data_capture_percent: int, multi_model: bool) -> bool:
    """Whether the endpoint is monitored: explicitly, or by default when it can be."""
    if monitoring.enabled is not None:
        return monitoring.enabled
    return endpoint_mode == "realtime" and data_capture_percent > 0 and not multi_model
