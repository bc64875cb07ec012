"""Alert publishing (EventBridge rules, CloudWatch alarms, Budgets and Cost Anomaly Detection to the KMS-encrypted alert
topic) and dead-letter queues. A service publishing to an encrypted topic needs the topic policy
and, in the key policy, kms:GenerateDataKey* and kms:Decrypt (SNS Developer Guide, "Enable
compatibility between event sources from AWS services and encrypted topics")."""
from __future__ import annotations

import pytest
from flowcheck.calls import Call
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import functions
from flowcheck.policy import Principal

from ml_platform.config import ENVIRONMENTS


def _publish(platform, service, topic, source_arn, why):
    p = Principal.of_service(service)
    context = {"aws:SourceAccount": platform.account, "aws:SourceArn": source_arn}
    key = platform.key_of(topic)
    return [Call(p, "sns:Publish", topic, context, why),
            *(Call(p, a, key, context, f"{why}: topic key") for a in ("kms:GenerateDataKey", "kms:Decrypt") if key)]


def alert_flow(platform) -> Flow:
    stage = platform.stage
    topics = {stage.arn(s, lid) for s, lid, _ in stage.resources("AWS::SNS::Topic")}
    flow = Flow("alert publishing")
    for stack, logical_id, resource in stage.resources("AWS::Events::Rule"):
        for target in stage.properties(stack, resource).get("Targets", []):
            if target["Arn"] in topics:
                flow.add(_publish(platform, "events.amazonaws.com", target["Arn"], stage.arn(stack, logical_id),
                                  "EventBridge rule"))
    for stack, logical_id, resource in stage.resources("AWS::CloudWatch::Alarm"):
        for action in stage.properties(stack, resource).get("AlarmActions", []):
            if action in topics:
                flow.add(_publish(platform, "cloudwatch.amazonaws.com", action, stage.arn(stack, logical_id),
                                  "CloudWatch alarm"))
    for stack, _, resource in stage.resources("AWS::Budgets::Budget"):
        props = stage.properties(stack, resource)
        budget = f"arn:aws:budgets::{platform.account}:budget/{props['Budget']['BudgetName']}"
        for notification in props.get("NotificationsWithSubscribers", []):
            for subscriber in notification["Subscribers"]:
                if subscriber["SubscriptionType"] == "SNS":
                    flow.add(_publish(platform, "budgets.amazonaws.com", subscriber["Address"], budget, "budget"))
    for stack, _, resource in stage.resources("AWS::CE::AnomalySubscription"):
        props = stage.properties(stack, resource)
        # Cost Explorer publishes for the subscription's account (aws:SourceAccount, AWS's documented condition).
        subscription = f"arn:aws:ce::{platform.account}:anomalysubscription/{props['SubscriptionName']}"
        for subscriber in props["Subscribers"]:
            if subscriber["Type"] == "SNS":
                flow.add(_publish(platform, "costalerts.amazonaws.com", subscriber["Address"], subscription,
                                  "cost anomaly subscription"))
    return flow


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alert_source_can_publish_to_the_encrypted_topic(platforms, env):
    flow = alert_flow(platforms[env])
    publishers = {c.principal.service for c in flow.checks}
    assert publishers == {"events.amazonaws.com", "cloudwatch.amazonaws.com", "budgets.amazonaws.com",
                          "costalerts.amazonaws.com"}
    assert_authorized(platforms[env], flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deployer_failures_reach_its_dead_letter_queue(platforms, cdk_out, env):
    # EventBridge invokes the deployer asynchronously; after its retries Lambda sends the event to
    # the queue with the function's role.
    platform = platforms[env]
    deployer = functions(platform, cdk_out / f"assembly-{env.capitalize()}")["endpoint_deployer"]
    checks = deployer.dead_letter_checks(platform)
    assert checks, "the deployer has no dead-letter queue"
    assert_authorized(platform, Flow(f"{env}: deployer dead letters", checks))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synchronously_invoked_functions_have_no_unusable_dead_letter_queue(platforms, cdk_out, env):
    platform = platforms[env]
    found = functions(platform, cdk_out / f"assembly-{env.capitalize()}")
    synchronous = [found[name] for name in ("firehose_transform", "endpoint_proxy") if name in found]
    with_queue = [f.role.arn for f in synchronous if f.properties.get("DeadLetterConfig")]
    assert not with_queue, f"dead-letter queues Lambda never uses (synchronous invocations): {with_queue}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_service_the_topic_does_not_admit_cannot_publish(platforms, env):
    # The topic policy and the key policy name their publishers: any other service is refused.
    platform = platforms[env]
    (subscription,) = [platform.stage.properties(s, r) for s, _, r in platform.stage.resources("AWS::CE::AnomalySubscription")]
    topic = subscription["Subscribers"][0]["Address"]
    flow = Flow("unlisted service", _publish(platform, "s3.amazonaws.com", topic, "arn:aws:s3:::any-bucket", "S3"))
    with pytest.raises(AssertionError):
        assert_authorized(platform, flow)
