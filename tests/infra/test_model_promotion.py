"""GIVEN the delivery pipeline WHEN PromoteToProd is approved and the Prod stacks are deployed THEN a
post step deploys the approved package to the prod endpoint and smoke-tests it (scripts/promote_model.py),
through a prod role only that step may assume (issue 9 defect 8). Also the stream's producer path and
dev buckets that `cdk destroy` can empty (defects 13 and 14)."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from ml_platform.config import ENVIRONMENTS, load_config, load_pipeline_config
from ml_platform.constructs.delivery.deploy_steps import PROMOTE_STEP_ID
from ml_platform.stacks.delivery_pipeline_stack import DeliveryPipelineStack

REPO = Path(__file__).resolve().parents[2]
PROMOTER = "arn:aws:iam::444444444444:role/mlp-cicd-delivery-promote-model"


@pytest.fixture(scope="module")
def pipeline_stack() -> DeliveryPipelineStack:
    config = load_pipeline_config()
    app = cdk.App(context=json.loads((REPO / "cdk.json").read_text())["context"])
    return DeliveryPipelineStack(
        app, "Pipeline", config=config, environments=[load_config(env) for env in ENVIRONMENTS],
        cli_version="2.1148.1", availability_zones=[f"{config.region}a"],
        env=cdk.Environment(account=config.account, region=config.region))


def test_prod_stage_ends_with_deploy_and_smoke_test_after_its_stacks(pipeline_stack):
    template = Template.from_stack(pipeline_stack)
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    prod = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == "Prod")
    actions = sorted(prod["Actions"], key=lambda a: a["RunOrder"])
    assert actions[0]["ActionTypeId"]["Category"] == "Approval"
    # The promotion comes after every deploy action; the post-deploy check runs after it (the last action).
    last = next(a for a in actions if a["Name"] == PROMOTE_STEP_ID)
    assert last["ActionTypeId"]["Provider"] == "CodeBuild"
    assert actions[-1]["Name"] == "PostDeployCheck" and actions[-1]["RunOrder"] > last["RunOrder"]
    assert all(a["RunOrder"] < last["RunOrder"] for a in actions if a["ActionTypeId"]["Category"] == "Deploy")
    project = template.find_resources("AWS::CodeBuild::Project")[last["Configuration"]["ProjectName"]["Ref"]]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    (command,) = spec["phases"]["build"]["commands"]
    assert command.startswith("python3 scripts/promote_model.py --role-arn \"$PROMOTION_ROLE_ARN\"")
    variables = {v["name"] for v in json.loads(last["Configuration"]["EnvironmentVariables"])}
    assert {"PROMOTION_ROLE_ARN", "DEPLOYER_FUNCTION", "ENDPOINT_NAME"} <= variables


def test_promote_role_may_assume_only_prods_promotion_role(pipeline_stack):
    Template.from_stack(pipeline_stack).has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {
        "Statement": Match.array_with([Match.object_like({
            "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::333333333333:role/mlp-prod-model-promotion"})])}})


def test_prod_promotion_role_trusts_only_the_promote_step_and_can_only_deploy_and_probe(pipeline_stack):
    prod = next(s for s in pipeline_stack.stages if s.config.environment == "prod")
    serving = Template.from_stack(prod.serving)
    serving.has_resource_properties("AWS::IAM::Role", {
        "RoleName": "mlp-prod-model-promotion",
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Action": "sts:AssumeRole", "Condition": {"ArnEquals": {"aws:PrincipalArn": PROMOTER}},
            "Principal": {"AWS": Match.any_value()}})]}})
    serving.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                           "Resource": "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/mlp-prod-endpoint"})])}})
    assert {o for o in serving.to_json()["Outputs"] if "Promotion" in o}
    staging = next(s for s in pipeline_stack.stages if s.config.environment == "staging")
    Template.from_stack(staging.serving).resource_properties_count_is(
        "AWS::IAM::Role", {"RoleName": "mlp-stg-model-promotion"}, 0)


def test_producers_have_a_role_that_can_put_records_with_the_streaming_key(prod_stage, template_of):
    ingestion = template_of(prod_stage.ingestion)
    ingestion.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": Match.array_with(["kinesis:PutRecord", "kinesis:PutRecords"])})])}})
    template_of(prod_stage.security).has_resource_properties("AWS::KMS::Key", {
        "Description": Match.string_like_regexp("Kinesis"),
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Sid": "UseByDomainRoles", "Condition": {"ArnEquals": {"aws:PrincipalArn": Match.array_with(
                ["arn:aws:iam::333333333333:role/mlp-prod-stream-producer"])}}})])}})


@pytest.mark.parametrize(("environment", "emptied"), [("dev", True), ("prod", False)])
def test_only_destroy_environments_empty_their_buckets_on_delete(stages, template_of, environment, emptied):
    lake = template_of(stages[environment].data_lake)
    buckets = len(lake.find_resources("AWS::S3::Bucket"))
    lake.resource_count_is("Custom::S3AutoDeleteObjects", buckets if emptied else 0)
