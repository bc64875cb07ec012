"""Alarm -> alert topic: the one way a platform construct raises an alarm.

Each capability's construct creates the alarms of the resources it owns (stacks only compose) with
`Alerting`, so no alarm exists without the alert topic as its action and every threshold an
operator tunes comes from `operations.alarms` in the environment's configuration.
"""
from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ml_platform.config_sections.operations import AlarmThresholds

AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD


@dataclass(frozen=True)
class Alerting:
    """Where alarms go (`topic`) and when they fire (`thresholds`)."""

    topic: sns.ITopic
    thresholds: AlarmThresholds

    @property
    def period(self) -> cdk.Duration:
        return cdk.Duration.minutes(self.thresholds.period_minutes)

    def notify(self, *alarms: cloudwatch.Alarm, on_ok: bool = False) -> None:
        """Publish each alarm's ALARM (and with `on_ok` its OK) transition to the alert topic."""
        for alarm in alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            if on_ok:
                alarm.add_ok_action(cw_actions.SnsAction(self.topic))

    def alarm(self, scope: Construct, construct_id: str, *, metric: cloudwatch.IMetric, threshold: float,
              description: str, comparison: cloudwatch.ComparisonOperator = AT_LEAST, evaluation_periods: int = 1,
              datapoints_to_alarm: int | None = None,
              missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING) -> cloudwatch.Alarm:
        """An alarm on `metric` that notifies the topic. Missing data is not breaching by default:
        these metrics are only published while something happens (no traffic is not a failure)."""
        created = cloudwatch.Alarm(
            scope, construct_id, metric=metric, threshold=threshold, alarm_description=description,
            comparison_operator=comparison, evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm, treat_missing_data=missing)
        self.notify(created)
        return created

    def function_alarms(self, scope: Construct, function: lambda_.IFunction, what: str) -> list[cloudwatch.Alarm]:
        """Errors and throttles of one function (IDs `Errors`, `Throttles` in `scope`)."""
        t = self.thresholds
        return [
            self.alarm(scope, "Errors", metric=function.metric_errors(period=self.period, statistic="Sum"),
                       threshold=t.lambda_errors, description=f"{what}: invocations failed"),
            self.alarm(scope, "Throttles", metric=function.metric_throttles(period=self.period, statistic="Sum"),
                       threshold=t.lambda_throttles,
                       description=f"{what}: invocations throttled (reserved concurrency or the account quota)"),
        ]

    def dead_letter_alarm(self, scope: Construct, construct_id: str, queue: sqs.IQueue, what: str) -> cloudwatch.Alarm:
        """Any message in a dead-letter queue: each one is a record or event its flow gave up on."""
        depth = queue.metric_approximate_number_of_messages_visible(period=self.period, statistic="Maximum")
        return self.alarm(scope, construct_id, metric=depth, threshold=0,
                          comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                          description=f"{what}: messages waiting in the dead-letter queue (depth above zero)")
