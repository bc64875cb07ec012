"""One environment's authorization model, built from its synthesized templates: roles with their
managed, inline and boundary policies; bucket, queue, topic, key and Lambda resource policies; the
keys that encrypt each bucket, queue, topic, stream and log group; Lake Formation."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowcheck import external
from flowcheck.cfn import Stage
from flowcheck.conditions import UnsupportedPolicy
from flowcheck.evaluate import Decision, evaluate
from flowcheck.lakeformation import LakeFormation
from flowcheck.policy import Principal, Request
from ml_platform.constructs.monitoring.images import CLARIFY_ACCOUNTS, MODEL_MONITOR_ACCOUNTS

Document = Mapping[str, Any]
# Owners of AWS's SageMaker images every account may pull: XGBoost, Model Monitor, Clarify.
AWS_IMAGE_ACCOUNTS = {"141502667606", "685385470294", "683313688378", *MODEL_MONITOR_ACCOUNTS.values(),
                      *CLARIFY_ACCOUNTS.values()}


@dataclass
class Role:
    name: str
    arn: str
    trust: Document
    policies: list[Document] = field(default_factory=list)
    aws_managed: list[str] = field(default_factory=list)
    boundary: list[Document] | None = None


@dataclass
class Platform:
    stage: Stage
    roles: dict[str, Role] = field(default_factory=dict)                 # by ARN
    resource_policies: dict[str, Document] = field(default_factory=dict)  # by resource ARN (bucket, queue, ...)
    key_policies: dict[str, Document] = field(default_factory=dict)       # by key ARN
    encryption_keys: dict[str, str] = field(default_factory=dict)         # resource ARN -> key ARN
    bucket_accounts: dict[str, str] = field(default_factory=dict)
    lake_formation: LakeFormation = field(default_factory=LakeFormation)

    @property
    def account(self) -> str:
        return self.stage.account

    @property
    def region(self) -> str:
        return self.stage.region

    # --- lookups a flow needs -------------------------------------------------------------------
    def role_named(self, name: str) -> Principal:
        arn = f"arn:aws:iam::{self.account}:role/{name}"
        if arn not in self.roles:
            raise KeyError(f"no role named {name} in the {self.account} templates: {sorted(self.roles)}")
        return Principal.role(arn)

    def key_of(self, resource_arn: str) -> str | None:
        """The customer-managed (or AWS managed) key that encrypts a bucket/queue/topic/stream/log group."""
        if resource_arn.startswith("arn:aws:s3:::"):
            resource_arn = "arn:aws:s3:::" + resource_arn[len("arn:aws:s3:::"):].split("/", 1)[0]
        return self.encryption_keys.get(resource_arn)

    # --- the decision ---------------------------------------------------------------------------
    def _resource_account(self, resource: str) -> str:
        if resource.startswith("arn:aws:s3:::"):
            bucket = resource[len("arn:aws:s3:::"):].split("/", 1)[0]
            if bucket not in self.bucket_accounts:
                raise UnsupportedPolicy(f"bucket {bucket} is neither in the templates nor a known external bucket")
            return self.bucket_accounts[bucket]
        parts = resource.split(":")
        return parts[4] if len(parts) > 4 and parts[4] else self.account

    def _resource_policy(self, request: Request) -> tuple[Document | None, bool]:
        resource = request.resource
        if request.action.lower() == "sts:assumerole" and resource in self.roles:
            return self.roles[resource].trust, False
        if resource.startswith("arn:aws:kms:"):
            if resource not in self.key_policies:
                raise UnsupportedPolicy(f"key {resource} is neither in the templates nor a known AWS managed key")
            return self.key_policies[resource], True
        if resource.startswith("arn:aws:s3:::"):
            bucket = "arn:aws:s3:::" + resource[len("arn:aws:s3:::"):].split("/", 1)[0]
            return self.resource_policies.get(bucket), False
        if resource.startswith("arn:aws:lambda:"):
            return self.resource_policies.get(":".join(resource.split(":")[:7])), False
        if resource.startswith("arn:aws:ecr:") and resource.split(":")[4] in AWS_IMAGE_ACCOUNTS:
            return external.aws_image_repository_policy(resource), False
        return self.resource_policies.get(resource), False

    def authorize(self, request: Request) -> Decision:
        identity: list[Document] = []
        boundary = None
        if not request.principal.is_service:
            role = self.roles.get(request.principal.arn)
            if role is None:
                raise UnsupportedPolicy(f"principal {request.principal} is not a role of the templates")
            if role.aws_managed:
                raise UnsupportedPolicy(f"{role.name} uses AWS managed policies {role.aws_managed}: not modelled")
            identity, boundary = role.policies, role.boundary
        policy, is_key = self._resource_policy(request)
        return evaluate(request, identity=identity, boundary=boundary, resource_policy=policy,
                        resource_account=self._resource_account(request.resource), key_policy=is_key)
