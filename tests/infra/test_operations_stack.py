"""Operations: the alert topic (encrypted, TLS-only, e-mail) and the tag-filtered cost budget."""
from __future__ import annotations

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
        "cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"}
    assert all(s["Condition"]["StringEquals"]["aws:SourceAccount"] == "111111111111" for s in publishers)


def test_budget_limit_thresholds_and_tag_filter_from_config(prod_stage, template_of):
    config = load_config("prod")
    budget = next(iter(template_of(prod_stage.operations).find_resources("AWS::Budgets::Budget").values()))
    props = budget["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": config.budget.monthly_limit_usd, "Unit": "USD"}
    assert props["Budget"]["CostFilters"]["TagKeyValue"] == ["user:Project$ml-platform", "user:Environment$prod"]
    thresholds = sorted({n["Notification"]["Threshold"] for n in props["NotificationsWithSubscribers"]})
    assert thresholds == list(config.budget.alert_thresholds_percent)
