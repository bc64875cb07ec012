"""Each run of a labeling state machine reports its outcome to the alert topic."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


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
