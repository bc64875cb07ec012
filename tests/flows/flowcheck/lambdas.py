"""Lambda functions of the templates, identified by the code they ship (the asset folder matches a
`lambda/<function>/` folder), and the boto3 calls that code makes, read from its source.

The Lambda service itself acts with the function's role for: log delivery (its log group), VPC
network interfaces, X-Ray segments (active tracing) and the dead-letter queue (Lambda Developer
Guide, "Lambda execution role", "Dead-letter queues": sqs:SendMessage, plus the queue key's
kms:GenerateDataKey/Decrypt for an SSE-KMS queue).
"""
from __future__ import annotations

import ast
import filecmp
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

from flowcheck.calls import Call, Check, assume, log_group_name, logs_write, sqs_send, vpc_network_interfaces
from flowcheck.conditions import UnsupportedPolicy
from flowcheck.platform import Platform
from flowcheck.policy import Principal

LAMBDA_DIR = Path(__file__).resolve().parents[3] / "lambda"
IAM_PREFIX = {"sagemaker-runtime": "sagemaker", "sagemaker-featurestore-runtime": "sagemaker", "monitoring": "cloudwatch"}
# Batch operations IAM authorizes by the single operation's action (SQS Developer Guide, "Amazon SQS
# API permissions": SendMessageBatch needs sqs:SendMessage, DeleteMessageBatch sqs:DeleteMessage).
BATCH_ACTIONS = {("sqs", "SendMessageBatch"): "sqs:SendMessage", ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
                 ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility"}
S3_ACTIONS = {"ListObjectsV2": ["s3:ListBucket"], "ListObjects": ["s3:ListBucket"], "HeadObject": ["s3:GetObject"],
              "CopyObject": ["s3:GetObject", "s3:PutObject"]}


@dataclass
class LambdaFunction:
    arn: str
    role: Principal
    properties: dict[str, Any]
    code: Path | None

    @property
    def environment(self) -> dict[str, str]:
        return self.properties.get("Environment", {}).get("Variables", {})

    def runtime_checks(self, platform: Platform) -> list[Check]:
        """What the Lambda service does with the function's role around every invocation."""
        checks: list[Check] = [assume(platform, "lambda.amazonaws.com", self.role)]
        group = self.properties.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{self.arn.split(':')[-1]}"
        checks += logs_write(platform, self.role, group, "function logs")
        vpc = self.properties.get("VpcConfig", {})
        if vpc.get("SubnetIds"):
            checks += vpc_network_interfaces(platform, self.role, subnets=vpc["SubnetIds"],
                                             security_groups=vpc["SecurityGroupIds"], why="function ENIs")
        if self.properties.get("TracingConfig", {}).get("Mode") == "Active":
            checks.append(Call(self.role, "xray:PutTraceSegments", "*", {}, "active tracing"))
        return checks

    def dead_letter_checks(self, platform: Platform) -> list[Check]:
        target = self.properties.get("DeadLetterConfig", {}).get("TargetArn")
        return sqs_send(platform, self.role, target, "dead-letter queue") if target else []


def _matches(asset: Path, folder: Path) -> bool:
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in (".py", ".json"))
    return bool(names) and all((asset / n).is_file() and filecmp.cmp(asset / n, folder / n, shallow=False)
                               for n in names)


def functions(platform: Platform, assembly: Path) -> dict[str, LambdaFunction]:
    """`lambda/<name>` -> the function that ships that folder's code (other functions under their ARN)."""
    stage, found = platform.stage, {}
    for stack, logical_id, resource in stage.resources("AWS::Lambda::Function"):
        props = stage.properties(stack, resource)
        asset_path = resource.get("Metadata", {}).get("aws:asset:path")
        if asset_path is None and "S3Key" in props.get("Code", {}):
            raise UnsupportedPolicy(f"{logical_id}: no aws:asset:path metadata; synthesize as the CDK CLI does "
                                    "(context aws:cdk:enable-asset-metadata=true) to find its code")
        asset = (assembly / asset_path).resolve() if asset_path else None
        function = LambdaFunction(stage.arn(stack, logical_id), Principal.role(props["Role"]), props, asset)
        name = next((d.name for d in sorted(LAMBDA_DIR.iterdir()) if asset and asset.is_dir() and _matches(asset, d)),
                    function.arn)
        found[name] = function
    return found


@cache
def _operations(service: str) -> dict[str, str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def _client_factories(trees: list[ast.Module]) -> set[str]:
    """Functions of the code that create a client of the service named by their first parameter
    (`def _client(service): ... boto3.client(service, ...)`): a cached-client helper."""
    factories = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.args.args:
                first = node.args.args[0].arg
                if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "client"
                       and c.args and isinstance(c.args[0], ast.Name) and c.args[0].id == first
                       for c in ast.walk(node)):
                    factories.add(node.name)
    return factories


def boto3_calls(folder: Path) -> set[tuple[str, str]]:
    """(service, operation) of every `<client>.<operation>(...)` in the folder's code, for the
    services it creates clients of with `boto3.client("<service>")` or through a helper of its own
    that passes its first argument to `boto3.client` (`_client("<service>")`)."""
    trees = [ast.parse(p.read_text()) for p in sorted(folder.glob("*.py"))]
    factories = _client_factories(trees)
    services = {node.args[0].value for tree in trees for node in ast.walk(tree)
                if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and ((isinstance(node.func, ast.Attribute) and node.func.attr == "client")
                     or (isinstance(node.func, ast.Name) and node.func.id in factories))}
    calls = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                for service in services:
                    operation = _operations(service).get(node.func.attr)
                    if operation:
                        calls.add((service, operation))
    return calls


def iam_actions(service: str, operation: str) -> list[str]:
    """The IAM actions one API operation is authorized by (Service Authorization Reference)."""
    if service == "s3":
        return S3_ACTIONS.get(operation, [f"s3:{operation}"])
    if (service, operation) in BATCH_ACTIONS:
        return [BATCH_ACTIONS[service, operation]]
    return [f"{IAM_PREFIX.get(service, service)}:{operation}"]


def function_log_group(platform: Platform, function: LambdaFunction) -> str:
    return log_group_name(platform, function.properties["LoggingConfig"]["LogGroup"])
