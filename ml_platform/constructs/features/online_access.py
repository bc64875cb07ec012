"""Online-store reads for roles another stack owns (the endpoint's model role)."""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct

from ml_platform.constructs.features.feature_group import FeatureGroup


class OnlineReadAccess(Construct):
    """`grant_read_online` (GetRecord, BatchGetRecord, the lake key) on every group with an online
    store, for roles created elsewhere: one customer-managed policy of this stack, attached to the
    roles by name (the roles' own stacks deploy first; the stage orders them)."""

    def __init__(self, scope: Construct, construct_id: str, *, groups: Sequence[FeatureGroup],
                 role_arns: Sequence[str], description: str) -> None:
        super().__init__(scope, construct_id)
        roles = [iam.Role.from_role_arn(self, f"Reader{i}", arn, mutable=False) for i, arn in enumerate(role_arns)]
        self.policy = iam.ManagedPolicy(self, "Policy", roles=roles, description=description)
        self.groups = [g for g in groups if g.config.online_store.enabled]
        for group in self.groups:
            group.grant_read_online(self.policy)
