"""Network stack: the VPC every workload runs in."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.naming import Naming
from ml_platform.retention import retention
from ml_platform.stacks.base import PlatformStack


class NetworkStack(PlatformStack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 logs_key: kms.IKey, removal_policy: cdk.RemovalPolicy, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.network = SecureVpc(
            self, "Network",
            cidr=config.network.cidr,
            availability_zones=config.availability_zones,
            nat_gateways=config.network.nat_gateways,
            logs_key=logs_key,
            flow_log_retention=retention(config.network.flow_log_retention_days),
            flow_logs_role_name=naming.role_name(RolePurpose.VPC_FLOW_LOGS),
            removal_policy=removal_policy,
        )
