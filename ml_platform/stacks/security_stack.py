"""Security stack: the environment's customer-managed KMS keys, one per data domain."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from constructs import Construct

from ml_platform.constructs.foundation.keys import KeyUsers, PlatformKey, logs_service_statement
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack

KEY_DOMAINS = {
    "lake": "Data-lake zones raw, curated and features",
    "models": "Model artifacts, code, reports and query results",
    "logs": "CloudWatch log groups (flow logs, Lambda, Glue, SageMaker)",
    "streaming": "Kinesis streams and Firehose delivery",
}


class SecurityStack(PlatformStack):
    """Keys are created before the stacks that use them; each stack's roles reference them by ARN."""

    def __init__(self, scope: Construct, construct_id: str, *, naming: Naming,
                 key_users: Mapping[str, Sequence[str]], removal_policy: cdk.RemovalPolicy,
                 **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.keys: dict[str, PlatformKey] = {}
        for domain, description in KEY_DOMAINS.items():
            services = [logs_service_statement(naming.region, naming.account)] if domain == "logs" else []
            users = KeyUsers(role_arns=[naming.role_arn(p) for p in key_users.get(domain, ())],
                             service_statements=services)
            self.keys[domain] = PlatformKey(
                self, f"{domain.capitalize()}Key", alias=naming.alias(domain),
                description=f"{naming.prefix}: {description}", users=users, removal_policy=removal_policy)
