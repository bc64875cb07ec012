"""AWS Cost Anomaly Detection for one environment, published to the alert topic."""
from __future__ import annotations

import json

from aws_cdk import aws_ce as ce
from aws_cdk import aws_sns as sns
from constructs import Construct

# The service that publishes anomaly alerts: the alert topic's policy and its key must admit it.
COST_ANOMALY_PUBLISHER = "costalerts.amazonaws.com"
# The only tag key of the monitor: a custom monitor takes one cost-allocation tag (and its values).
MONITOR_TAG = "Environment"


def threshold_expression(impact_usd: float, impact_percent: float | None) -> dict[str, object]:
    """Cost Explorer's expression: total impact >= `impact_usd` (and >= `impact_percent` when set)."""
    def at_least(key: str, value: float) -> dict[str, object]:
        return {"Dimensions": {"Key": key, "MatchOptions": ["GREATER_THAN_OR_EQUAL"], "Values": [f"{value:g}"]}}

    absolute = at_least("ANOMALY_TOTAL_IMPACT_ABSOLUTE", impact_usd)
    if impact_percent is None:
        return absolute
    return {"And": [absolute, at_least("ANOMALY_TOTAL_IMPACT_PERCENTAGE", impact_percent)]}


class CostAnomalyDetection(Construct):
    """A custom anomaly monitor over the resources tagged `Environment=<environment>` and a
    subscription that publishes each anomaly above the threshold to `topic` as it is detected.

    Behaviour: SNS subscribers only receive IMMEDIATE alerts (Cost Explorer refuses DAILY/WEEKLY
    for them); the topic must let `costalerts.amazonaws.com` publish and encrypt with its key
    (`AlertTopic(publishers=...)`). The tag must be activated as a cost-allocation tag in the
    Billing console, as the budget's filter already requires.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, environment: str, topic: sns.ITopic,
                 impact_usd: float, impact_percent: float | None) -> None:
        super().__init__(scope, construct_id)
        self.monitor = ce.CfnAnomalyMonitor(
            self, "Monitor", monitor_name=name, monitor_type="CUSTOM",
            monitor_specification=json.dumps({"Tags": {"Key": MONITOR_TAG, "Values": [environment],
                                                       "MatchOptions": ["EQUALS"]}}))
        self.subscription = ce.CfnAnomalySubscription(
            self, "Subscription", subscription_name=name, frequency="IMMEDIATE",
            monitor_arn_list=[self.monitor.attr_monitor_arn],
            subscribers=[ce.CfnAnomalySubscription.SubscriberProperty(type="SNS", address=topic.topic_arn)],
            threshold_expression=json.dumps(threshold_expression(impact_usd, impact_percent)))
        # Cost Explorer checks that it may publish when the subscription is created: policy first.
        policy = topic.node.try_find_child("Policy")
        if policy is not None:
            self.subscription.node.add_dependency(policy)
