"""The execution role SageMaker assumes to run a model: pull its image, read its artifacts, write its outputs."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_platform.constructs.foundation.network_interfaces import EniPlacement, EniService, grant_network_interfaces
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.sagemaker_job_logs import SAGEMAKER_LOG_ACTIONS
from ml_platform.grant_acknowledgments import KMS, S3_READ, acknowledge_grants

# AWS publishes its framework images (sagemaker-xgboost) from a different AWS-owned account in
# each region; the repository name is fixed, the account is not ours to enumerate here.
FRAMEWORK_REPOSITORIES = ("sagemaker-xgboost",)


class ModelExecutionRole(Construct):
    """A `PlatformRole` for SageMaker models, with least-privilege grants.

    Behaviour: ECR pull of the AWS XGBoost framework image and of this account's repositories
    named `<prefix>-*`; read of the artifacts bucket (model.tar.gz); write of endpoint outputs
    under the given prefixes only (data capture, async results); publish to the async topics;
    its endpoint's CloudWatch logs and metrics; network interfaces only in `placement` (subnets and
    security group of the endpoint). KMS use comes from listing the role among the models key's users.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str, name_prefix: str,
                 artifacts: s3.IBucket, output_prefixes: list[str], topics: list[sns.ITopic],
                 placement: EniPlacement) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = PlatformRole(self, "Role", role_name=role_name,
                                 assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                                 description="Execution role of SageMaker models served by the platform")
        artifacts.grant_read(self.role)
        for prefix in output_prefixes:
            artifacts.grant_put(self.role, f"{prefix}/*")
        for topic in topics:
            topic.grant_publish(self.role)
        def repo(account: str, name: str) -> str:
            return f"arn:{stack.partition}:ecr:{stack.region}:{account}:repository/{name}"

        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="PullModelImages", actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resources=[repo("*", r) for r in FRAMEWORK_REPOSITORIES] + [repo(stack.account, f"{name_prefix}-*")]))
        # GetAuthorizationToken is account-wide by design (it has no resource).
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        log_groups = stack.format_arn(service="logs", resource="log-group",
                                      resource_name="/aws/sagemaker/Endpoints/*",
                                      arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="EndpointLogs", actions=list(SAGEMAKER_LOG_ACTIONS),
            resources=[log_groups, f"{log_groups}:log-stream:*"]))
        # PutMetricData has no resource; the namespace condition keeps it to SageMaker's.
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="EndpointMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["AWS/SageMaker*", "/aws/sagemaker/*"]}}))
        self._acknowledge(artifacts, output_prefixes, name_prefix)
        # VpcConfig: SageMaker creates the model's network interfaces in `placement` with this role.
        grant_network_interfaces(self.role, service=EniService.SAGEMAKER, placement=placement)

    def _acknowledge(self, artifacts: s3.IBucket, output_prefixes: list[str], name_prefix: str) -> None:
        stack = cdk.Stack.of(self)
        region, account = stack.region, stack.account
        # CDK's grant_read / grant_put action groups, with the one reason table.
        acknowledge_grants(self.role, actions=S3_READ + ("s3:Abort*",) + KMS)
        log_groups = f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/*"
        reasons = {
            "Resource::*": "ECR login, CloudWatch PutMetricData (namespace-conditioned) and the EC2 Describe* "
                           "reads of VPC placement have no resource ARNs to scope to",
            f"Resource::arn:aws:ecr:{region}:*:repository/sagemaker-xgboost":
                "The AWS XGBoost framework image is published from an AWS-owned account that differs per region",
            f"Resource::arn:aws:ecr:{region}:{account}:repository/{name_prefix}-*":
                "This environment's own model images, named with its prefix in this account only",
            f"Resource::{log_groups}": "SageMaker names endpoint log groups /aws/sagemaker/Endpoints/<endpoint>",
            f"Resource::{log_groups}:log-stream:*": "SageMaker creates one log stream per endpoint instance",
            f"Resource::arn:aws:s3:::{artifacts.bucket_name}/*":
                "Model archives are written by training jobs under run-specific keys of the artifacts bucket",
        }
        for prefix in output_prefixes:
            reasons[f"Resource::arn:aws:s3:::{artifacts.bucket_name}/{prefix}/*"] = (
                f"SageMaker writes this endpoint's outputs under {prefix}/ with keys it generates")
        acknowledge_grants(self.role, resources=reasons)
