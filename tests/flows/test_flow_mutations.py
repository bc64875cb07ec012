"""The proofs can fail: remove one needed permission from the synthesized templates and the flow
that needs it is denied, naming the missing call. Also the resolver on the intrinsic functions."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from flowcheck.build import platform_of
from flowcheck.cfn import Stack, Stage, load_stage
from flowcheck.flow import assert_authorized
from flowcheck.lambdas import boto3_calls, iam_actions
from flowcheck.policy import Request

from ml_platform.config import load_config

HERE = Path(__file__).resolve().parent


def _flows_of(module_name: str):
    spec = importlib.util.spec_from_file_location(f"flows_{module_name}", HERE / f"{module_name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prod_stage(cdk_out) -> Stage:
    config = load_config("prod")
    return load_stage(cdk_out / "assembly-Prod", account=config.account, region=config.region)


def _drop_action(stage: Stage, action: str) -> int:
    """Remove `action` from every identity policy statement of the templates; how many were edited."""
    edited = 0
    for _, _, resource in stage.resources("AWS::IAM::ManagedPolicy"):
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if "Action" not in statement:  # a NotAction statement (the permissions boundary)
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if action in actions:
                statement["Action"] = [a for a in actions if a != action]
                edited += 1
    return edited


def test_removing_one_permission_fails_the_flow_that_needs_it(cdk_out):
    firehose_flow = _flows_of("test_flow_data").firehose_flow
    # GIVEN the prod templates, the Firehose flow is authorized
    stage = _prod_stage(cdk_out)
    assert_authorized(platform_of(stage), firehose_flow(platform_of(stage)))
    # WHEN kinesis:GetRecords is removed from the identity policies (the delivery role's among them)
    assert _drop_action(stage, "kinesis:GetRecords") >= 1
    mutated = platform_of(stage)
    # THEN the flow fails on exactly that call
    with pytest.raises(AssertionError, match=r"DENIED .*firehose-delivery kinesis:GetRecords"):
        assert_authorized(mutated, firehose_flow(mutated))


def test_a_key_policy_without_the_account_makes_iam_policies_ineffective(cdk_out):
    firehose_flow = _flows_of("test_flow_data").firehose_flow
    stage = _prod_stage(cdk_out)
    # WHEN the lake key's policy no longer lets the delivery role's account use it
    for _, _, resource in stage.resources("AWS::KMS::Key"):
        statements = resource["Properties"]["KeyPolicy"]["Statement"]
        resource["Properties"]["KeyPolicy"]["Statement"] = [
            s for s in statements if "mlp-prod-firehose-delivery" not in json.dumps(s)]
    mutated = platform_of(stage)
    # THEN the role's own kms:GenerateDataKey* grant is not enough: delivery is denied
    with pytest.raises(AssertionError, match=r"DENIED .*firehose-delivery kms:GenerateDataKey"):
        assert_authorized(mutated, firehose_flow(mutated))


def test_resolver_follows_exports_and_string_functions():
    exporter = Stack("Env-A", {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b1"}},
                                             "Key": {"Type": "AWS::KMS::Key", "Properties": {}}},
                               "Outputs": {"Out": {"Value": {"Fn::GetAtt": ["Key", "Arn"]},
                                                   "Export": {"Name": "Env-A:KeyArn"}}}})
    importer = Stack("Env-B", {"Resources": {}})
    stage = Stage(account="123456789012", region="eu-west-1", stacks=[exporter, importer])
    key = stage.resolve({"Fn::ImportValue": "Env-A:KeyArn"}, importer)
    assert key == "arn:aws:kms:eu-west-1:123456789012:key/Env-A-Key"
    assert stage.resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}, exporter) == "arn:aws:s3:::b1/*"
    assert stage.resolve({"Fn::Sub": ["s3://${B}/x", {"B": {"Ref": "Bucket"}}]}, exporter) == "s3://b1/x"
    assert stage.resolve({"Fn::Join": ["", ["arn:aws:s3:::", {"Ref": "Bucket"}]]}, exporter) == "arn:aws:s3:::b1"
    assert stage.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, exporter) == "b"
    assert stage.resolve({"K": {"Ref": "AWS::NoValue"}, "L": [1, {"Ref": "AWS::NoValue"}]}, exporter) == {"L": [1]}


def test_boto3_calls_are_read_from_the_code(tmp_path):
    # GIVEN a handler creating two clients and calling them through helper functions
    (tmp_path / "handler.py").write_text(
        "import boto3\n"
        "def handler(event, context):\n"
        "    return work(boto3.client('sqs'), boto3.client('s3'))\n")
    (tmp_path / "work.py").write_text(
        "def work(queue, store):\n"
        "    store.copy_object(Bucket='b', Key='k', CopySource={'Bucket': 'a', 'Key': 'k'})\n"
        "    return queue.send_message(QueueUrl='u', MessageBody='m').get('MessageId')\n")
    # WHEN the folder is read, THEN every operation is found (and `.get` is not one) with its IAM actions
    calls = boto3_calls(tmp_path)
    assert calls == {("sqs", "SendMessage"), ("s3", "CopyObject")}
    assert sorted(a for c in calls for a in iam_actions(*c)) == ["s3:GetObject", "s3:PutObject", "sqs:SendMessage"]


def test_clients_made_by_a_helper_of_the_code_count_and_batch_calls_map_to_their_action(tmp_path):
    # GIVEN a handler that caches clients in `_client(service)` (as lambda/feature_ingestion does)
    # and sends SQS messages in batches (SQS authorizes SendMessageBatch as sqs:SendMessage)
    (tmp_path / "handler.py").write_text(
        "import boto3\n"
        "_clients = {}\n"
        "def _client(service, region=None):\n"
        "    if service not in _clients:\n"
        "        _clients[service] = boto3.client(service, region_name=region)\n"
        "    return _clients[service]\n"
        "def handler(event, context):\n"
        "    _client('sagemaker-featurestore-runtime').put_record(FeatureGroupName='g', Record=[])\n"
        "    _client('sqs').send_message_batch(QueueUrl='u', Entries=[])\n")
    # WHEN the folder is read THEN both services and their IAM actions are found
    calls = boto3_calls(tmp_path)
    assert calls == {("sagemaker-featurestore-runtime", "PutRecord"), ("sqs", "SendMessageBatch")}
    assert sorted(a for c in calls for a in iam_actions(*c)) == ["sagemaker:PutRecord", "sqs:SendMessage"]


def test_a_role_with_a_permissions_boundary_is_capped(cdk_out):
    # GIVEN the analyst role with a boundary that allows only SageMaker and S3 reads,
    stage = _prod_stage(cdk_out)
    stack, role = next((s, r) for s, _, r in stage.resources("AWS::IAM::Role")
                       if r["Properties"].get("RoleName") == "mlp-prod-analyst")
    stack.resources["ReadOnlyBoundary"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
        "ManagedPolicyName": "read-only-boundary", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sagemaker:Describe*", "s3:Get*"], "Resource": "*"}]}}}
    role["Properties"]["PermissionsBoundary"] = {"Ref": "ReadOnlyBoundary"}
    platform = platform_of(stage)
    analyst = platform.role_named("mlp-prod-analyst")
    workgroup = f"arn:aws:athena:{platform.region}:{platform.account}:workgroup/mlp-prod-analytics"
    # WHEN it starts a query its own policy allows, THEN the boundary denies it; reads stay allowed
    assert not platform.authorize(Request(analyst, "athena:StartQueryExecution", workgroup))
    assert platform.authorize(Request(analyst, "s3:GetObject",
                                      "arn:aws:s3:::mlp-prod-artifacts-333333333333-eu-west-1/athena-results/x"))
