"""Serving section: endpoint mode, autoscaling, rollout and the approval-driven deployer."""
from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ml_platform.config_sections.base import INSTANCE_TYPE, Section
from ml_platform.config_sections.serving_schedule import OffHoursScaling, off_hours_problems

_MODEL_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]+/\d+$")
_ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$")


class ScheduledScaling(Section):
    """A capacity window (e.g. business hours) applied by Application Auto Scaling on a cron."""

    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    cron: str = Field(pattern=r"^cron\(.+\)$")  # Application Auto Scaling form: cron(0 8 ? * MON-FRI *)
    min_instances: int = Field(ge=0, le=100)
    max_instances: int = Field(ge=1, le=100)


class EndpointConfig(Section):
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
    # Non-prod: fewer instances outside working hours (config_sections/serving_schedule.py).
    off_hours: OffHoursScaling | None = None
    data_capture_percent: int = Field(default=20, ge=0, le=100)
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    serverless_max_concurrency: int = Field(default=5, ge=1, le=200)
    serverless_provisioned_concurrency: int | None = Field(default=None, ge=1, le=200)
    async_max_concurrent_invocations: int = Field(default=4, ge=1, le=1000)
    async_backlog_per_instance: int = Field(default=5, ge=1)
    # canary/linear need a fleet of at least two (see `_rollout_fits`); serverless: all_at_once only.
    rollout: Literal["all_at_once", "canary", "linear"] = "all_at_once"
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
    # Reserved Lambda concurrency (None: unreserved); the total is checked against the account quota.
    deployer_reserved_concurrency: int | None = Field(default=None, ge=1, le=10)
    api_gateway: bool = False  # REST API (IAM auth) + proxy Lambda in front of the endpoint
    api_throttle_rate_per_second: float = Field(default=50, gt=0)
    api_throttle_burst: int = Field(default=100, ge=1)
    api_proxy_reserved_concurrency: int | None = Field(default=None, ge=1, le=1000)
    api_waf: bool = False  # WAFv2 web ACL on the API stage (managed rule groups + per-IP rate rule)
    api_waf_rate_limit: int = Field(default=2000, ge=100, le=2_000_000_000)  # requests per IP per 5 minutes

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not INSTANCE_TYPE.match(value):
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
        if self.api_gateway and self.mode not in ("realtime", "serverless"):
            raise ValueError("api_gateway answers synchronously: it needs mode realtime or serverless")
        if self.api_waf and not self.api_gateway:
            raise ValueError("api_waf guards the API: set api_gateway too")
        for window in self.scheduled_scaling:
            if window.max_instances < window.min_instances:
                raise ValueError(f"scheduled_scaling {window.name}: max_instances must be >= min_instances")
        if self.off_hours is not None:
            problems = off_hours_problems(self.off_hours, mode=self.mode, min_instances=self.min_instances,
                                          max_instances=self.max_instances)
            if problems:
                raise ValueError("; ".join(problems))
        self._rollout_fits()
        return self

    def _rollout_fits(self) -> None:
        """SageMaker's limits on blue/green traffic shifting (TrafficRoutingConfig, deployment guardrails).

        Guardrails apply to real-time and asynchronous endpoints only; a canary must be at most 50% of
        the fleet and a linear step 10-50%. A percentage resolves to at least one instance, so on the
        smallest fleet (min_instances) one instance must still be no more than half of it.
        """
        if self.rollout == "all_at_once":
            return
        if self.mode == "serverless":
            raise ValueError(f"rollout {self.rollout!r}: deployment guardrails (canary, linear) apply to real-time "
                             "and asynchronous endpoints only; a serverless endpoint needs rollout all_at_once")
        percent = self.canary_percent if self.rollout == "canary" else self.linear_step_percent
        step = max(1, math.ceil(self.min_instances * percent / 100))
        if step * 2 > self.min_instances:
            raise ValueError(f"rollout {self.rollout!r}: a {percent}% step of {self.min_instances} instance(s) "
                             f"(min_instances) is {step} instance(s), more than the 50% of the fleet SageMaker allows; "
                             "use min_instances >= 2 or rollout all_at_once")

    @property
    def has_initial_model(self) -> bool:
        return bool(self.initial_model_package_arn or self.initial_model_data_url)
