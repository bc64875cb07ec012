"""Physical names, derived from configuration in one place.

Most resources get CloudFormation-generated names. Those that other systems or key policies refer
to by name (IAM roles allowed by a KMS key policy, bucket names users type) need stable names, and
all of them are made here so they never drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

from ml_platform.config import PlatformConfig


@dataclass(frozen=True)
class Naming:
    prefix: str
    account: str
    region: str

    @classmethod
    def of(cls, config: PlatformConfig) -> "Naming":
        return cls(prefix=config.name_prefix, account=config.account, region=config.region)

    def role_name(self, purpose: str) -> str:
        name = f"{self.prefix}-{purpose}"
        if len(name) > 64:
            raise ValueError(f"role name {name!r} is longer than IAM's 64 characters")
        return name

    def role_arn(self, purpose: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name(purpose)}"

    def bucket_name(self, zone: str) -> str:
        # Account and region make the globally unique name predictable and collision-free.
        name = f"{self.prefix}-{zone}-{self.account}-{self.region}"
        if len(name) > 63:
            raise ValueError(f"bucket name {name!r} is longer than S3's 63 characters")
        return name

    def resource_name(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def alias(self, domain: str) -> str:
        return f"alias/{self.prefix}/{domain}"
