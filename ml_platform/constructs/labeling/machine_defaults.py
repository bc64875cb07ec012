"""What both labeling state machines (the job launcher, active learning) are by default.

- traced with X-Ray; every execution event logged to the machine's own log group (encrypted with the
  logs key, kept for the environment's retention), without execution data (no state inputs or outputs);
- each run's outcome (succeeded, failed, timed out, aborted) reaches the alert topic.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


@dataclass(frozen=True)
class MachineRuntime:
    """What each labeling state machine runs with: its role, its log group's key, retention and
    removal policy, and the alert topic every execution's outcome goes to."""

    role: iam.IRole
    logs_key: kms.IKey
    log_retention: logs.RetentionDays
    removal_policy: cdk.RemovalPolicy
    alerts_topic: sns.ITopic


def logged_state_machine(scope: Construct, *, definition: sfn.IChainable, timeout: cdk.Duration, comment: str,
                         runtime: MachineRuntime) -> sfn.StateMachine:
    """`StateMachine` in `scope`, running as the runtime's role, logging to `Logs` (both construct IDs in `scope`)."""
    log_group = logs.LogGroup(scope, "Logs", encryption_key=runtime.logs_key, retention=runtime.log_retention,
                              removal_policy=runtime.removal_policy)
    return sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        tracing_enabled=True,
        timeout=timeout,
        role=runtime.role,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        comment=comment,
    )


def report_status(scope: Construct, machine: sfn.StateMachine, topic: sns.ITopic, what: str) -> None:
    """Every end of an execution (success or not) reaches the alert topic through EventBridge."""
    rule = events.Rule(
        scope,
        "StatusToAlerts",
        description=f"Report each {what} run's outcome",
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={
                "stateMachineArn": [machine.state_machine_arn],
                "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
            },
        ),
    )
    # By ARN: the topic's own policy already admits EventBridge of this account only; the L2 topic
    # would make the target add an unconditioned events.amazonaws.com statement to it.
    by_arn = sns.Topic.from_topic_arn(rule, "AlertTopic", topic.topic_arn)
    rule.add_target(
        targets.SnsTopic(
            by_arn,
            message=events.RuleTargetInput.from_text(
                f"{what} run {events.EventField.from_path('$.detail.name')}: "
                f"{events.EventField.from_path('$.detail.status')}"
            ),
        )
    )
