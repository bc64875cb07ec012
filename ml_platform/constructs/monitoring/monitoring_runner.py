"""The monitoring function: starts our monitoring jobs, publishes both engines' metrics, and
(Model Monitor engine) points schedules at each deployed model's baseline."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.vpc_function import AsyncFailures, FunctionPlacement, VpcFunction
from ml_platform.constructs.monitoring.images import CLARIFY_REPOSITORY, MODEL_MONITOR_REPOSITORY
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.paths import LAMBDA_ROOT

ASSET = LAMBDA_ROOT / "monitoring_runner"


class MonitoringRunner(Construct):
    """`lambda/monitoring_runner` in the VPC, and the rules that start it.

    Behaviour: one schedule rule per monitored endpoint (`cron`, input
    `{"action": "monitor", "endpoint": ...}`); one rule on completed processing jobs that are ours
    (name prefix) or Model Monitor's/Clarify's (image), whose metrics it publishes; with
    `model_monitor_endpoints`, a rule on those endpoints coming InService. EventBridge invokes
    asynchronously: two retries within two hours, then the function's KMS dead-letter queue.
    Permissions are added by the caller through `role` (see `OurMonitor`, `ModelMonitorEngine`).
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str, environment: dict[str, str],
                 endpoints: list[str], cron: str, job_prefix: str, model_monitor_endpoints: list[str],
                 vpc: ec2.IVpc, vpc_subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup,
                 models_key: kms.IKey, logs_key: kms.IKey, log_retention: logs.RetentionDays,
                 removal_policy: cdk.RemovalPolicy, alerting: Alerting) -> None:
        super().__init__(scope, construct_id)
        self.role = PlatformRole(self, "Role", role_name=role_name,
                                 assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                                 description="Starts monitoring jobs and publishes their metrics")
        parts = VpcFunction(
            self, "Runner", role=self.role, asset=ASSET, description="Starts monitoring jobs and publishes their metrics",
            environment=environment,
            placement=FunctionPlacement(vpc=vpc, subnets=vpc_subnets, security_group=security_group),
            environment_key=models_key, async_failures=AsyncFailures(key=models_key), logs_key=logs_key,
            log_retention=log_retention, reserved_concurrency=2, timeout=cdk.Duration.minutes(5), memory_size=256,
            removal_policy=removal_policy, alerting=alerting)
        self.function, self.dead_letters = parts.function, parts.dead_letter_queue
        target = targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=cdk.Duration.hours(2))
        self.schedule_rules = []
        for index, endpoint in enumerate(endpoints):
            rule = events.Rule(self, f"Schedule{index}", schedule=events.Schedule.expression(cron),
                               description=f"Monitor {endpoint} on the monitoring schedule")
            rule.add_target(targets.LambdaFunction(
                self.function, retry_attempts=2, max_event_age=cdk.Duration.hours(2),
                event=events.RuleTargetInput.from_object({"action": "monitor", "endpoint": endpoint})))
            self.schedule_rules.append(rule)
        stack = cdk.Stack.of(self)
        images = [{"prefix": f"{account}.dkr.ecr.{stack.region}.amazonaws.com/{repo}"}
                  for account, repo in _image_prefixes(stack.region)] if model_monitor_endpoints else []
        self.completion_rule = events.Rule(
            self, "OnMonitoringJobCompleted", description="Publish a finished monitoring job's metrics",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"], detail_type=["SageMaker Processing Job State Change"],
                detail={"ProcessingJobStatus": ["Completed"],
                        "$or": [{"ProcessingJobName": [{"prefix": f"{job_prefix}-"}]},
                                *([{"AppSpecification": {"ImageUri": images}}] if images else [])]}))
        self.completion_rule.add_target(target)
        self.deployment_rule = None
        if model_monitor_endpoints:
            self.deployment_rule = events.Rule(
                self, "OnEndpointInService", description="Point Model Monitor schedules at the deployed model",
                event_pattern=events.EventPattern(
                    source=["aws.sagemaker"], detail_type=["SageMaker Endpoint State Change"],
                    detail={"EndpointName": model_monitor_endpoints, "EndpointStatus": ["IN_SERVICE"]}))
            self.deployment_rule.add_target(target)
        self.role.acknowledge_wildcard("Resource::*", "Only the Lambda VPC ENI actions, X-Ray trace writes and "
                                       "cloudwatch:PutMetricData (conditioned on the monitoring namespace) use '*': "
                                       "none of them supports resource-level permissions")


def _image_prefixes(region: str) -> list[tuple[str, str]]:
    from ml_platform.constructs.monitoring.images import CLARIFY_ACCOUNTS, MODEL_MONITOR_ACCOUNTS
    return [(MODEL_MONITOR_ACCOUNTS[region], MODEL_MONITOR_REPOSITORY), (CLARIFY_ACCOUNTS[region], CLARIFY_REPOSITORY)]
