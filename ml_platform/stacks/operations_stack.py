"""Operations stack: the alert topic every capability notifies, the environment's cost budget and
its cost anomaly detection (`operations.cost_anomaly`)."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constructs.foundation.alerts import ALERT_PUBLISHERS, AlertTopic, CostBudget
from ml_platform.constructs.operations.cost_anomaly import COST_ANOMALY_PUBLISHER, CostAnomalyDetection
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack


class OperationsStack(PlatformStack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 removal_policy: cdk.RemovalPolicy, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        anomaly = config.operations.cost_anomaly
        publishers = (*ALERT_PUBLISHERS, COST_ANOMALY_PUBLISHER) if anomaly.enabled else ALERT_PUBLISHERS
        self.alerts = AlertTopic(self, "Alerts", topic_name=naming.resource_name("alerts"),
                                 email=config.alerts.email, alias=naming.alias("alerts"),
                                 removal_policy=removal_policy, publishers=publishers)
        self.alerts_topic = self.alerts.topic
        self.budget = CostBudget(self, "Budget", budget_name=naming.resource_name("monthly-cost"),
                                 limit_usd=config.budget.monthly_limit_usd,
                                 thresholds_percent=config.budget.alert_thresholds_percent,
                                 cost_tags=config.tags.as_dict(), topic=self.alerts_topic)
        self.cost_anomaly = None
        if anomaly.enabled:
            self.cost_anomaly = CostAnomalyDetection(
                self, "CostAnomaly", name=naming.resource_name("cost-anomalies"), environment=config.environment,
                topic=self.alerts_topic, impact_usd=anomaly.impact_usd, impact_percent=anomaly.impact_percent)
