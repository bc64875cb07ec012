"""Build a `Platform` from a resolved `Stage`: every role, policy and encrypted resource found by
type and properties (never by logical ID)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flowcheck import external
from flowcheck.cfn import Stage, load_stage
from flowcheck.conditions import UnsupportedPolicy
from flowcheck.lakeformation import lake_formation_of
from flowcheck.platform import Platform, Role


def _managed_policies(stage: Stage) -> dict[str, dict[str, Any]]:
    found = {}
    for stack, logical_id, resource in stage.resources("AWS::IAM::ManagedPolicy"):
        found[stage.ref(stack, logical_id)] = stage.properties(stack, resource)
    return found


def _boundary(managed: dict[str, dict[str, Any]], arn: str, role: str) -> dict[str, Any]:
    if arn in managed:
        return managed[arn]["PolicyDocument"]
    if arn in external.AWS_MANAGED_POLICIES:
        return external.AWS_MANAGED_POLICIES[arn]
    raise UnsupportedPolicy(f"{role}: permissions boundary {arn} is neither in the templates nor modelled")


def _roles(stage: Stage, platform: Platform) -> None:
    managed = _managed_policies(stage)
    by_name: dict[str, Role] = {}
    for stack, logical_id, resource in stage.resources("AWS::IAM::Role"):
        props = stage.properties(stack, resource)
        role = Role(name=stage.physical_name(stack, logical_id), arn=stage.arn(stack, logical_id),
                    trust=props["AssumeRolePolicyDocument"])
        role.policies += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for arn in props.get("ManagedPolicyArns", []):
            if arn in managed:
                role.policies.append(managed[arn]["PolicyDocument"])
            elif arn in external.AWS_MANAGED_POLICIES:
                role.policies.append(external.AWS_MANAGED_POLICIES[arn])
            else:
                role.aws_managed.append(arn)
        if "PermissionsBoundary" in props:
            role.boundary = [_boundary(managed, props["PermissionsBoundary"], role.name)]
        platform.roles[role.arn] = role
        by_name[role.name] = role
    # Policies that name their roles (AWS::IAM::Policy, or a managed policy with `Roles`).
    for type_name in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for stack, _, resource in stage.resources(type_name):
            props = stage.properties(stack, resource)
            for name in props.get("Roles", []):
                by_name[name].policies.append(props["PolicyDocument"])


def _resource_policies(stage: Stage, platform: Platform) -> None:
    queue_arns = {stage.ref(s, lid): stage.arn(s, lid) for s, lid, _ in stage.resources("AWS::SQS::Queue")}
    for stack, _, resource in stage.resources("AWS::S3::BucketPolicy"):
        props = stage.properties(stack, resource)
        platform.resource_policies[f"arn:aws:s3:::{props['Bucket']}"] = props["PolicyDocument"]
    for stack, _, resource in stage.resources("AWS::SQS::QueuePolicy"):
        props = stage.properties(stack, resource)
        for url in props["Queues"]:
            platform.resource_policies[queue_arns[url]] = props["PolicyDocument"]
    for stack, _, resource in stage.resources("AWS::SNS::TopicPolicy"):
        props = stage.properties(stack, resource)
        for arn in props["Topics"]:
            platform.resource_policies[arn] = props["PolicyDocument"]
    for stack, logical_id, resource in stage.resources("AWS::KMS::Key"):
        platform.key_policies[stage.arn(stack, logical_id)] = stage.properties(stack, resource)["KeyPolicy"]
    functions = {stage.ref(s, lid): stage.arn(s, lid) for s, lid, _ in stage.resources("AWS::Lambda::Function")}
    for stack, _, resource in stage.resources("AWS::Lambda::Permission"):
        _lambda_permission(platform, functions, stage.properties(stack, resource))


def _lambda_permission(platform: Platform, functions: dict[str, str], props: dict[str, Any]) -> None:
    """AWS::Lambda::Permission as the statement Lambda adds to the function's resource policy."""
    function = props["FunctionName"]
    function = functions.get(function, function)
    principal = props["Principal"]
    statement: dict[str, Any] = {
        "Effect": "Allow", "Action": props["Action"], "Resource": function,
        "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal}}
    conditions: dict[str, Any] = {}
    if "SourceArn" in props:
        conditions["ArnLike"] = {"aws:SourceArn": props["SourceArn"]}
    if "SourceAccount" in props:
        conditions["StringEquals"] = {"aws:SourceAccount": props["SourceAccount"]}
    if conditions:
        statement["Condition"] = conditions
    policy = platform.resource_policies.setdefault(function, {"Version": "2012-10-17", "Statement": []})
    policy["Statement"].append(statement)  # type: ignore[index]


def _key_arn(platform: Platform, key: str) -> str:
    """Keys are given by ARN in our templates; `alias/aws/<service>` names an AWS managed key."""
    if key.startswith("arn:aws:kms:"):
        return key
    return f"arn:aws:kms:{platform.region}:{platform.account}:{key}"


def _encryption(stage: Stage, platform: Platform) -> None:
    for stack, logical_id, resource in stage.resources("AWS::S3::Bucket"):
        props = stage.properties(stack, resource)
        name = stage.physical_name(stack, logical_id)
        platform.bucket_accounts[name] = platform.account
        for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
            default = rule["ServerSideEncryptionByDefault"]
            if default["SSEAlgorithm"] == "aws:kms":
                key = default.get("KMSMasterKeyID", external.aws_managed_s3_key_arn(platform.account, platform.region))
                platform.encryption_keys[f"arn:aws:s3:::{name}"] = _key_arn(platform, key)
    for type_name, path in (("AWS::SQS::Queue", ("KmsMasterKeyId",)), ("AWS::SNS::Topic", ("KmsMasterKeyId",)),
                            ("AWS::Kinesis::Stream", ("StreamEncryption", "KeyId")),
                            ("AWS::Logs::LogGroup", ("KmsKeyId",))):
        for stack, logical_id, resource in stage.resources(type_name):
            value: Any = stage.properties(stack, resource)
            for step in path:
                value = value.get(step) if isinstance(value, dict) else None
            if value:
                platform.encryption_keys[stage.arn(stack, logical_id)] = _key_arn(platform, value)


def _bootstrap(platform: Platform) -> None:
    account, region = platform.account, platform.region
    bucket = external.bootstrap_bucket_name(account, region)
    platform.bucket_accounts[bucket] = account
    platform.resource_policies[f"arn:aws:s3:::{bucket}"] = external.bootstrap_bucket_policy(account, region)
    managed_key = external.aws_managed_s3_key_arn(account, region)
    platform.encryption_keys[f"arn:aws:s3:::{bucket}"] = managed_key
    platform.key_policies[managed_key] = external.aws_managed_s3_key_policy(account, region)


def platform_of(stage: Stage) -> Platform:
    platform = Platform(stage=stage)
    _roles(stage, platform)
    _resource_policies(stage, platform)
    _encryption(stage, platform)
    _bootstrap(platform)
    platform.lake_formation = lake_formation_of(stage)
    return platform


def load_platform(assembly: Path, *, account: str, region: str) -> Platform:
    return platform_of(load_stage(assembly, account=account, region=region))
