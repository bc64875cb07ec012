"""Security gates: the cdk-nag packs every stack is checked against, and how findings are acknowledged.

cdk-nag 3 runs as CDK policy-validation plugins: an unacknowledged error fails `cdk synth`.
A finding is acknowledged on the one resource it concerns, one rule per call, with a reason a
reviewer can check; `ml_platform.report` turns the acknowledgments into a readable report.
"""
from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct

PACK_PREFIXES = {
    "AwsSolutions": "AWS Solutions",
    "HIPAA.Security": "HIPAA Security",
    "NIST.800.53.R5": "NIST 800-53 rev 5",
    "PCI.DSS.321": "PCI DSS 3.2.1",
}
MIN_REASON_LENGTH = 30


def add_rule_packs(app: cdk.App) -> None:
    """Run every pack on every stack of the app."""
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), HIPAASecurityChecks(app), NIST80053R5Checks(app), PCIDSS321Checks(app)
    )


def acknowledge(resource: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one rule's finding on one resource, with a reason a reviewer can verify."""
    if not any(rule_id.startswith(f"{prefix}-") for prefix in PACK_PREFIXES):
        raise ValueError(f"{rule_id!r} is not a rule of the packs this app runs")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledging {rule_id} needs a reason a reviewer can check, got {reason!r}")
    target = resource.node.default_child or resource
    cdk.Validations.of(target).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def acknowledge_all(resource: IConstruct, rule_ids: list[str], reason: str) -> None:
    """The same reason holds for several rules on one resource: still one acknowledgment per rule."""
    for rule_id in rule_ids:
        acknowledge(resource, rule_id, reason)


def wildcard_finding(detail: str) -> str:
    """The id of one AwsSolutions-IAM5 finding, e.g. `Action::s3:GetObject*`."""
    return f"AwsSolutions-IAM5[{detail}]"


def object_arn_finding(resource: cdk.CfnResource, suffix: str = "/*") -> str:
    """IAM5 finding for `<LogicalId.Arn>/*`, the object ARNs of a resource granted by CDK grants."""
    logical_id = cdk.Stack.of(resource).get_logical_id(resource)
    return wildcard_finding(f"Resource::<{logical_id}.Arn>{suffix}")


# Rules that each pack raises for the same control, grouped so one call states the reason once.
LAMBDA_IN_VPC = ["HIPAA.Security-LambdaInsideVPC", "NIST.800.53.R5-LambdaInsideVPC",
                 "PCI.DSS.321-LambdaInsideVPC"]
LAMBDA_CONCURRENCY = ["HIPAA.Security-LambdaConcurrency", "NIST.800.53.R5-LambdaConcurrency"]
LAMBDA_DLQ = ["HIPAA.Security-LambdaDLQ", "NIST.800.53.R5-LambdaDLQ"]
S3_REPLICATION = ["HIPAA.Security-S3BucketReplicationEnabled", "NIST.800.53.R5-S3BucketReplicationEnabled",
                  "PCI.DSS.321-S3BucketReplicationEnabled"]
IAM_INLINE_POLICY = ["HIPAA.Security-IAMNoInlinePolicy", "NIST.800.53.R5-IAMNoInlinePolicy",
                     "PCI.DSS.321-IAMNoInlinePolicy"]
