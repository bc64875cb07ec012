"""Every platform Lambda function, in every stack of every environment, has the one construct's
secure defaults (VpcFunction): placed in the VPC, traced, environment encrypted with a platform key,
its own KMS-encrypted log group with a retention, ARM64 Python 3.12, a stable name, and a dead-letter
queue wherever something invokes it asynchronously. A function added without VpcFunction fails here."""
from __future__ import annotations

import aws_cdk as cdk
import pytest

from ml_platform.config import ENVIRONMENTS

# Services that invoke a function asynchronously (Lambda retries, then gives up on the event).
ASYNC_INVOKERS = {"events.amazonaws.com", "s3.amazonaws.com", "sns.amazonaws.com"}


def _platform_functions(template: dict) -> dict[str, dict]:
    # CDK's own custom-resource providers are Node.js and run only while CloudFormation deploys.
    return {lid: r["Properties"] for lid, r in template["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Runtime"].startswith("python")}


def _async_invoked(template: dict) -> set[str]:
    invoked = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Permission" and props.get("Principal") in ASYNC_INVOKERS:
            target = props["FunctionName"]
            invoked.add(target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target.get("Ref"))
    return invoked


def _defects(lid: str, props: dict, template: dict, async_invoked: set[str]) -> list[str]:
    resources = template["Resources"]
    log_group = resources.get(props.get("LoggingConfig", {}).get("LogGroup", {}).get("Ref", ""), {})
    checks = {
        "in the VPC": bool(props.get("VpcConfig", {}).get("SubnetIds"))
        and bool(props["VpcConfig"].get("SecurityGroupIds")),
        "X-Ray tracing active": props.get("TracingConfig") == {"Mode": "Active"},
        "environment encrypted with a key": "KmsKeyArn" in props,
        "own KMS-encrypted log group with retention": log_group.get("Type") == "AWS::Logs::LogGroup"
        and "KmsKeyId" in log_group["Properties"] and "RetentionInDays" in log_group["Properties"],
        "ARM64 Python 3.12": props.get("Architectures") == ["arm64"] and props["Runtime"] == "python3.12",
        "stable name": isinstance(props.get("FunctionName"), str),
        "dead-letter queue when invoked asynchronously": lid not in async_invoked
        or "TargetArn" in props.get("DeadLetterConfig", {}),
    }
    return [f"{lid}: not {what}" for what, ok in checks.items() if not ok]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_platform_function_has_the_secure_defaults(stages, template_of, env):
    functions, defects = 0, []
    for stack in (c for c in stages[env].node.children if isinstance(c, cdk.Stack)):
        template = template_of(stack).to_json()
        async_invoked = _async_invoked(template)
        for lid, props in _platform_functions(template).items():
            functions += 1
            defects += [f"{stack.node.path}/{d}" for d in _defects(lid, props, template, async_invoked)]
    assert functions >= 5
    assert not defects, "\n".join(defects)


def test_async_invoked_functions_are_found(stages, template_of):
    # The DLQ check above only means something if the permissions that make a function async are seen.
    found = set()
    for stage in stages.values():
        for stack in (c for c in stage.node.children if isinstance(c, cdk.Stack)):
            found |= {f"{stack.stack_name}/{lid}" for lid in _async_invoked(template_of(stack).to_json())}
    assert len(found) >= 4, found
