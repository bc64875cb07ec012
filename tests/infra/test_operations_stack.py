"""Operations: the alert topic (encrypted, TLS-only, e-mail), the tag-filtered cost budget and cost anomaly detection."""
from __future__ import annotations

import json

from ml_platform.config import load_config


def test_alert_topic_is_encrypted_and_subscribed(dev_stage, template_of):
    t = template_of(dev_stage.operations)
    topic = next(iter(t.find_resources("AWS::SNS::Topic").values()))["Properties"]
    assert "KmsMasterKeyId" in topic
    t.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": load_config("dev").alerts.email})


def test_alert_topic_denies_plain_http_and_admits_only_this_accounts_services(dev_stage, template_of):
    policy = next(iter(template_of(dev_stage.operations).find_resources("AWS::SNS::TopicPolicy").values()))
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
               for s in statements)
    publishers = [s for s in statements if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in publishers} == {
        "cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com"}
    assert all(s["Condition"]["StringEquals"]["aws:SourceAccount"] == "111111111111" for s in publishers)


def test_budget_limit_thresholds_and_tag_filter_from_config(prod_stage, template_of):
    config = load_config("prod")
    budget = next(iter(template_of(prod_stage.operations).find_resources("AWS::Budgets::Budget").values()))
    props = budget["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": config.budget.monthly_limit_usd, "Unit": "USD"}
    assert props["Budget"]["CostFilters"]["TagKeyValue"] == ["user:Project$ml-platform", "user:Environment$prod"]
    thresholds = sorted({n["Notification"]["Threshold"] for n in props["NotificationsWithSubscribers"]})
    assert thresholds == list(config.budget.alert_thresholds_percent)


def test_budget_notifies_the_topic_on_actual_and_forecast_spend(prod_stage, template_of):
    t = template_of(prod_stage.operations).to_json()
    (budget,) = [r for r in t["Resources"].values() if r["Type"] == "AWS::Budgets::Budget"]
    (topic_id,) = [k for k, r in t["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    kinds = {(n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
             for n in budget["Properties"]["NotificationsWithSubscribers"]}
    assert kinds == {(k, p) for k in ("ACTUAL", "FORECASTED") for p in load_config("prod").budget.alert_thresholds_percent}
    assert all(n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}]
               for n in budget["Properties"]["NotificationsWithSubscribers"])


def test_cost_anomaly_monitor_watches_the_environment_tag_and_publishes_immediately(dev_stage, template_of):
    t = template_of(dev_stage.operations).to_json()
    resources = t["Resources"]
    (monitor_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::CE::AnomalyMonitor"]
    (subscription,) = [r for r in resources.values() if r["Type"] == "AWS::CE::AnomalySubscription"]
    (topic_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::SNS::Topic"]
    (policy_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::SNS::TopicPolicy"]
    monitor = resources[monitor_id]["Properties"]
    assert monitor["MonitorType"] == "CUSTOM"
    assert json.loads(monitor["MonitorSpecification"]) == {
        "Tags": {"Key": "Environment", "Values": ["dev"], "MatchOptions": ["EQUALS"]}}
    props = subscription["Properties"]
    assert props["Frequency"] == "IMMEDIATE"  # the only frequency Cost Explorer allows an SNS subscriber
    assert props["MonitorArnList"] == [{"Fn::GetAtt": [monitor_id, "MonitorArn"]}]
    assert props["Subscribers"] == [{"Type": "SNS", "Address": {"Ref": topic_id}}]
    assert json.loads(props["ThresholdExpression"]) == {"Dimensions": {
        "Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "MatchOptions": ["GREATER_THAN_OR_EQUAL"],
        "Values": [f"{load_config('dev').operations.cost_anomaly.impact_usd:g}"]}}
    # Cost Explorer checks it may publish when the subscription is created: the topic policy first.
    assert policy_id in subscription["DependsOn"]


def test_alert_key_admits_every_publisher_of_the_topic(dev_stage, template_of):
    t = template_of(dev_stage.operations).to_json()
    (key,) = [r for r in t["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    (use,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AlertPublishersEncrypt"]
    assert set(use["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "events.amazonaws.com",
                                               "budgets.amazonaws.com", "costalerts.amazonaws.com"}
    assert use["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}
