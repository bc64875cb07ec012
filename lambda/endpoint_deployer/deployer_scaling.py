"""Application Auto Scaling for an endpoint the deployer created (CloudFormation cannot register a
scalable target for an endpoint that does not exist when the stack deploys).

Register/Put calls update in place, so applying the same document again is harmless.
"""
from __future__ import annotations


def apply_scaling(autoscaling, cloudwatch, scaling: dict) -> dict:
    """Register the variant as a scalable target, then its policies, step alarm and schedules."""
    autoscaling.register_scalable_target(**scaling["Target"])
    policy_arns = {}
    for policy in scaling["Policies"]:
        response = autoscaling.put_scaling_policy(**policy)
        policy_arns[policy["PolicyName"]] = response["PolicyARN"]
    alarm = scaling.get("StepAlarm")
    if alarm:
        step = next(p["PolicyName"] for p in scaling["Policies"] if p["PolicyType"] == "StepScaling")
        # The step policy only acts when an alarm invokes it: from zero instances there is no
        # backlog-per-instance value for target tracking to act on.
        cloudwatch.put_metric_alarm(**alarm, AlarmActions=[policy_arns[step]])
    # Off-hours scaling (and other capacity windows): PutScheduledAction replaces an action of the
    # same name, so the schedule follows the configuration on every registration.
    scheduled = []
    for action in scaling.get("ScheduledActions", []):
        autoscaling.put_scheduled_action(**action)
        scheduled.append(action["ScheduledActionName"])
    return {"action": "scaling-registered", "resource_id": scaling["Target"]["ResourceId"],
            "policies": sorted(policy_arns), "scheduled_actions": sorted(scheduled)}
