"""The log groups SageMaker writes a job's logs to, as one statement for every role a job runs as.

SageMaker names a job's log group after its kind (`/aws/sagemaker/TrainingJobs`, `.../TransformJobs`,
`.../LabelingJobs`, ...) and its streams after the job, so a role gets exactly the groups of the job
kinds it runs: the group itself (CreateLogGroup, on a first job in the account) and its streams
(`:*`, named per job at run time). The `:*` form is the one wildcard a security reviewer sees.
"""
from __future__ import annotations

from aws_cdk import aws_iam as iam

from ml_platform.constructs.foundation.roles import PlatformRole

# What SageMaker does with a job's or an endpoint's role on its log groups.
SAGEMAKER_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def job_log_group_arn(region: str, account: str, group: str) -> str:
    """The ARN of SageMaker's `/aws/sagemaker/<group>` log group."""
    return f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/{group}"


def grant_job_logs(role: PlatformRole, *, sid: str, region: str, account: str, groups: tuple[str, ...]) -> None:
    """Let `role` write the logs of SageMaker jobs of the kinds `groups` (`TrainingJobs`, ...) and
    acknowledge each group's per-job streams wildcard on it."""
    arns = [job_log_group_arn(region, account, group) for group in groups]
    role.add_to_principal_policy(iam.PolicyStatement(
        sid=sid, actions=list(SAGEMAKER_LOG_ACTIONS), resources=[form for arn in arns for form in (arn, f"{arn}:*")]))
    for group, arn in zip(groups, arns, strict=True):
        role.acknowledge_wildcard(f"Resource::{arn}:*",
                                  f"Log streams of the /aws/sagemaker/{group} log group are named per job at run time")
