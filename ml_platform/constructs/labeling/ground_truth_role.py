"""The role Ground Truth labeling jobs run as (CreateLabelingJob `RoleArn`).

Least privilege for what a job does on the platform's behalf (SageMaker developer guide,
sms-security-permission-execution-role): read the input manifest and objects under the raw zone's
`labeling/` prefix, read and write the job's output under the curated zone's `labeled/` prefix
(both with the lake key), invoke the platform's two task functions, write its logs and metrics,
and, for automated data labeling, run its training and inference jobs in the VPC.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.constructs.foundation.keys import volume_key_grants_statement
from ml_platform.constructs.foundation.network_interfaces import EniPlacement, EniService, grant_network_interfaces
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.sagemaker_job_logs import grant_job_logs

INPUT_PREFIX = "labeling/"
OUTPUT_PREFIX = "labeled/"


class GroundTruthRole(Construct):
    """`self.role`: assumed by SageMaker for labeling jobs of this environment only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        raw_bucket: str,
        curated_bucket: str,
        lake_key: kms.IKey,
        region: str,
        account: str,
        name_prefix: str,
        placement: EniPlacement,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role_name = role_name
        self.role = PlatformRole(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}
            ),
            description="Ground Truth labeling jobs of the platform",
        )
        self._grant_lake_access(raw_bucket, curated_bucket, lake_key)
        self._grant_job_telemetry(region, account)
        self._grant_automated_labeling(region, account, name_prefix, lake_key)
        self._acknowledge(raw_bucket, curated_bucket)
        # Automated labeling's jobs run in the VPC: their network interfaces only in `placement`.
        grant_network_interfaces(self.role, service=EniService.SAGEMAKER, placement=placement)

    def _grant_lake_access(self, raw_bucket: str, curated_bucket: str, lake_key: kms.IKey) -> None:
        """The job's input under the raw zone's `labeling/`, its output under the curated zone's `labeled/`."""
        add = self.role.add_to_principal_policy
        add(
            iam.PolicyStatement(
                sid="ReadLabelingInput",
                actions=["s3:GetObject"],
                resources=[
                    f"arn:aws:s3:::{raw_bucket}/{INPUT_PREFIX}*",
                    f"arn:aws:s3:::{curated_bucket}/{OUTPUT_PREFIX}*",
                ],
            )
        )
        add(
            iam.PolicyStatement(
                sid="WriteLabelingOutput",
                # SageMaker uploads large outputs in parts and aborts a failed upload.
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[f"arn:aws:s3:::{curated_bucket}/{OUTPUT_PREFIX}*"],
            )
        )
        add(
            iam.PolicyStatement(
                sid="ListLabelingPrefixes",
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[f"arn:aws:s3:::{raw_bucket}", f"arn:aws:s3:::{curated_bucket}"],
            )
        )
        lake_key.grant(self.role, "kms:Decrypt", "kms:GenerateDataKey")

    def _grant_job_telemetry(self, region: str, account: str) -> None:
        """The job's logs (and automated labeling's training and transform jobs' logs) in their SageMaker
        log groups, and its metrics in SageMaker's namespaces."""
        add = self.role.add_to_principal_policy
        grant_job_logs(self.role, sid="LabelingJobLogs", region=region, account=account,
                       groups=("LabelingJobs", "TrainingJobs", "TransformJobs"))
        # PutMetricData has no resource form; the namespace condition keeps it to SageMaker's own.
        add(
            iam.PolicyStatement(
                sid="LabelingJobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}},
            )
        )

    def _grant_automated_labeling(self, region: str, account: str, name_prefix: str, lake_key: kms.IKey) -> None:
        """Automated data labeling runs SageMaker training and transform jobs named after the labeling job."""
        add = self.role.add_to_principal_policy
        jobs = [
            f"arn:aws:sagemaker:{region}:{account}:{kind}/{name_prefix}-*"
            for kind in ("training-job", "transform-job", "model")
        ]
        add(
            iam.PolicyStatement(
                sid="AutomatedLabelingJobs",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:CreateModel",
                    "sagemaker:DeleteModel",
                ],
                resources=jobs,
            )
        )
        add(
            iam.PolicyStatement(
                sid="PassSelfToAutomatedLabelingJobs",
                actions=["iam:PassRole"],
                # By name: the role's own ARN attribute would make the policy and the role depend on each other.
                resources=[f"arn:aws:iam::{account}:role/{self.role_name}"],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # The jobs' volumes are encrypted with the lake key: SageMaker creates a grant for them.
        add(volume_key_grants_statement(lake_key.key_arn))

    def _acknowledge(self, raw_bucket: str, curated_bucket: str) -> None:
        """The IAM5 findings of the grants above, each with why its wildcard is needed."""
        for resource, why in (
            (f"arn:aws:s3:::{raw_bucket}/{INPUT_PREFIX}*", "input manifests and objects of each job"),
            (f"arn:aws:s3:::{curated_bucket}/{OUTPUT_PREFIX}*", "each job's output, named after the job"),
            ("*", "PutMetricData and the VPC ENI/Describe actions have no resource-level form"),
        ):
            self.role.acknowledge_wildcard(f"Resource::{resource}",
                f"Ground Truth writes and reads {why}; scoped to this prefix",
            )
