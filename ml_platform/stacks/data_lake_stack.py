"""Data-lake stack: the zone buckets and their access logs."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constructs.data.lake import ZONES, DataLake, LifecycleTiers
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack


class DataLakeStack(PlatformStack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 lake_key: kms.IKey, models_key: kms.IKey, removal_policy: cdk.RemovalPolicy,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        tiers = {zone: LifecycleTiers(**getattr(config.data_lake, zone).model_dump()) for zone in ZONES}
        self.lake = DataLake(
            self, "DataLake",
            bucket_names={name: naming.bucket_name(name) for name in (*ZONES, "access-logs")},
            lake_key=lake_key, models_key=models_key, tiers=tiers,
            access_log_expiration_days=config.data_lake.access_log_expiration_days,
            removal_policy=removal_policy,
        )
