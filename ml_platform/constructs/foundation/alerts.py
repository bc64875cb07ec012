"""Where the platform's alarms, pipeline failures and budget warnings go."""
from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from ml_platform.constructs.foundation.keys import KeyUsers, PlatformKey

# AWS services that publish to the alert topic; each needs to encrypt with the topic's key.
ALERT_PUBLISHERS = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com")


class AlertTopic(Construct):
    """A KMS-encrypted, TLS-only SNS topic with an e-mail subscription.

    Behaviour: its own key (alerts domain), usable only by `publishers` (CloudWatch alarms,
    EventBridge and AWS Budgets by default; Cost Anomaly Detection where enabled) on behalf of this
    account (`aws:SourceAccount`); publishing over plain HTTP is denied. It has no `grant_publish`: the
    key policy admits only those services, so a role could not encrypt messages for it.
    """

    def __init__(self, scope: Construct, construct_id: str, *, topic_name: str, email: str, alias: str,
                 removal_policy: cdk.RemovalPolicy, publishers: Sequence[str] = ALERT_PUBLISHERS) -> None:
        super().__init__(scope, construct_id)
        account = cdk.Stack.of(self).account
        service_use = iam.PolicyStatement(
            sid="AlertPublishersEncrypt",
            principals=[iam.ServicePrincipal(s) for s in publishers],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": account}})
        self.key = PlatformKey(self, "Key", alias=alias, description=f"{topic_name}: alert notifications",
                               users=KeyUsers(service_statements=[service_use]),
                               removal_policy=removal_policy).key
        self.topic = sns.Topic(self, "Topic", topic_name=topic_name, master_key=self.key, enforce_ssl=True)
        self.topic.add_subscription(subscriptions.EmailSubscription(email))
        for service in publishers:
            self.topic.add_to_resource_policy(iam.PolicyStatement(
                sid=f"Publish{service.split('.')[0].capitalize()}",
                principals=[iam.ServicePrincipal(service)], actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": account}}))


class CostBudget(Construct):
    """A monthly cost budget over the resources carrying this environment's Project/Environment tags."""

    def __init__(self, scope: Construct, construct_id: str, *, budget_name: str, limit_usd: float,
                 thresholds_percent: Sequence[int], cost_tags: dict[str, str], topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        tag_filters = [f"user:{key}${cost_tags[key]}" for key in ("Project", "Environment")]
        self.budget = budgets.CfnBudget(
            self, "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name, budget_type="COST", time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=limit_usd, unit="USD"),
                cost_filters={"TagKeyValue": tag_filters}),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        comparison_operator="GREATER_THAN", notification_type=kind,
                        threshold=threshold, threshold_type="PERCENTAGE"),
                    subscribers=[budgets.CfnBudget.SubscriberProperty(subscription_type="SNS",
                                                                      address=topic.topic_arn)])
                for threshold in thresholds_percent for kind in ("ACTUAL", "FORECASTED")
            ],
        )
