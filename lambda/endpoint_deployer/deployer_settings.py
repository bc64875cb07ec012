"""The deployer's settings, read once from the environment the CDK stack wrote."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass


class DeploymentError(Exception):
    """A deployment cannot proceed; the message says why and what to check."""


@dataclass(frozen=True)
class Settings:
    """Where and how to deploy: the endpoint document, the package group, the model's role and network."""

    endpoint: dict                 # EndpointName, KmsKeyId, ProductionVariant, DeploymentConfig, ...
    scaling: dict | None           # Target, Policies, StepAlarm, ScheduledActions (None: no autoscaling)
    model_package_group: str
    execution_role_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    multi_model_prefix: str | None
    multi_model_kms_key_id: str | None = None   # the models key: archives staged for a multi-model endpoint
    region: str = ""                             # where the model runs (Lambda's AWS_REGION)

    @property
    def endpoint_name(self) -> str:
        return self.endpoint["EndpointName"]

    @property
    def in_vpc(self) -> bool:
        return bool(self.subnet_ids)


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


def settings_from(env: dict[str, str] | None = None) -> Settings:
    """Parse the variables `EndpointDeployer` sets; a missing one is a deployment error, not a KeyError."""
    env = os.environ if env is None else env
    missing = [k for k in ("ENDPOINT_SPEC", "MODEL_PACKAGE_GROUP", "EXECUTION_ROLE_ARN") if not env.get(k)]
    if env.get("MULTI_MODEL_PREFIX") and not env.get("MULTI_MODEL_KMS_KEY_ID"):
        missing.append("MULTI_MODEL_KMS_KEY_ID")
    if missing:
        raise DeploymentError(f"deployer misconfigured: environment variable(s) {missing} not set")
    scaling = env.get("SCALING_SPEC") or ""
    return Settings(
        endpoint=json.loads(env["ENDPOINT_SPEC"]),
        scaling=json.loads(scaling) if scaling else None,
        model_package_group=env["MODEL_PACKAGE_GROUP"],
        execution_role_arn=env["EXECUTION_ROLE_ARN"],
        subnet_ids=_split(env.get("SUBNET_IDS", "")),
        security_group_ids=_split(env.get("SECURITY_GROUP_IDS", "")),
        multi_model_prefix=env.get("MULTI_MODEL_PREFIX") or None,
        multi_model_kms_key_id=env.get("MULTI_MODEL_KMS_KEY_ID") or None,
        region=env.get("AWS_REGION", ""),
    )
