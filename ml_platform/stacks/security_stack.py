"""Security stack: the environment's customer-managed KMS keys, one per data domain."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from ml_platform.constants import KeyDomain, RolePurpose
from ml_platform.constructs.foundation.keys import DomainKeys, KeyUsers, PlatformKey, logs_service_statement
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack


class SecurityStack(PlatformStack):
    """Keys are created before the stacks that use them; each stack's roles reference them by ARN.

    `self.keys.<domain>` is the key of each `KeyDomain`; the key policy of a domain admits exactly
    the roles `key_users` lists for it (CloudWatch Logs of this account and region, too, for logs).
    """

    def __init__(self, scope: Construct, construct_id: str, *, naming: Naming,
                 key_users: Mapping[KeyDomain, Sequence[RolePurpose]], removal_policy: cdk.RemovalPolicy,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.platform_keys: dict[KeyDomain, PlatformKey] = {}
        for domain in KeyDomain:
            services = [logs_service_statement(naming.region, naming.account)] if domain is KeyDomain.LOGS else []
            users = KeyUsers(role_arns=[naming.role_arn(p) for p in key_users.get(domain, ())],
                             service_statements=services)
            self.platform_keys[domain] = PlatformKey(
                self, f"{domain.capitalize()}Key", alias=naming.alias(domain),
                description=f"{naming.prefix}: {domain.description}", users=users, removal_policy=removal_policy)
        self.keys = DomainKeys(**{domain.value: key.key for domain, key in self.platform_keys.items()})
