"""Roles SageMaker jobs run as: least privilege for the job runtime itself (image, logs, VPC)."""
from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from ml_platform.constructs.foundation.network_interfaces import EniPlacement, EniService, grant_network_interfaces
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.sagemaker_job_logs import grant_job_logs
from ml_platform.constructs.training.xgboost_image import xgboost_repository_arn


class SageMakerJobRole(PlatformRole):
    """A role for SageMaker processing, training (and tuning trials) or transform jobs.

    Behaviour: assumable by SageMaker of this account only; may pull only the XGBoost framework
    repository, write logs only to `/aws/sagemaker/<job kinds>` log groups, publish metrics only in
    SageMaker namespaces, and create network interfaces only in `placement` (its subnets and security
    groups). Data access comes from the buckets' and keys' `grant_*` methods.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str, description: str,
                 region: str, account: str, log_groups: list[str], placement: EniPlacement) -> None:
        super().__init__(scope, construct_id, role_name=role_name, description=description,
                         assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com", conditions={
                             "StringEquals": {"aws:SourceAccount": account}}))
        # ecr:GetAuthorizationToken has no resource-level permissions: "*" is the only resource.
        self.grants_policy.add_statements(
            iam.PolicyStatement(sid="EcrToken", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(sid="PullXGBoostImage", resources=[xgboost_repository_arn(region)],
                                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                         "ecr:BatchCheckLayerAvailability"]),
            # PutMetricData has no resource-level permissions; the namespace condition scopes it.
            iam.PolicyStatement(sid="JobMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
                                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}),
        )
        self.acknowledge_wildcard("Resource::*",
                        "Only ecr:GetAuthorizationToken, cloudwatch:PutMetricData (namespace-conditioned) and "
                        "the EC2 Describe* calls SageMaker VPC placement needs use '*': none of these "
                        "actions supports resource-level permissions")
        # VPC placement: SageMaker creates and deletes the job's network interfaces with this role.
        grant_network_interfaces(self, service=EniService.SAGEMAKER, placement=placement)
        grant_job_logs(self, sid="JobLogs", region=region, account=account, groups=tuple(log_groups))
