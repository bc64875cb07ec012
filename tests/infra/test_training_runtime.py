"""GIVEN the synthesized network and training pipeline WHEN a multi-instance tuning trial runs THEN its
members can talk IPsec to each other, each host trains on its own shard, and the pipeline role may
create exactly the tuning jobs the definition describes (issue 9 defects 4 and 9)."""
from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match


def _tuning_definition(template) -> dict:
    (pipeline,) = template.find_resources("AWS::SageMaker::Pipeline").values()
    definition = json.loads(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0])
    (tuning,) = [s for s in definition["Steps"] if s["Type"] == "Tuning"]
    return tuning["Arguments"]["TrainingJobDefinition"]


def test_workload_members_allow_ipsec_between_themselves(prod_stage, template_of):
    network = template_of(prod_stage.network)
    self_ref = {"Fn::GetAtt": [Match.string_like_regexp("WorkloadSecurityGroup"), "GroupId"]}
    network.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "IpProtocol": "udp", "FromPort": 500, "ToPort": 500, "SourceSecurityGroupId": self_ref})
    network.has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "IpProtocol": "udp", "FromPort": 500, "ToPort": 500, "DestinationSecurityGroupId": self_ref})
    network.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "IpProtocol": "50", "SourceSecurityGroupId": self_ref, "GroupId": self_ref})
    network.has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "IpProtocol": "50", "DestinationSecurityGroupId": self_ref, "GroupId": self_ref})


@pytest.mark.parametrize(("environment", "train_distribution"), [
    ("dev", "FullyReplicated"), ("staging", "ShardedByS3Key"), ("prod", "ShardedByS3Key")])
def test_train_channel_is_sharded_when_more_than_one_host_trains(stages, template_of, environment,
                                                                 train_distribution):
    job = _tuning_definition(template_of(stages[environment].training))
    assert job["EnableInterContainerTrafficEncryption"] is True
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
                for c in job["InputDataConfig"]}
    assert channels == {"train": train_distribution, "validation": "FullyReplicated", "code": "FullyReplicated"}


def test_tuning_request_sends_no_custom_metric_definitions_for_the_aws_image(prod_stage, template_of):
    """The AWS XGBoost image counts as the built-in algorithm: SageMaker refuses custom definitions
    and reads the objective with its own regex from train.py's native lines (defect 3)."""
    job = _tuning_definition(template_of(prod_stage.training))
    assert "sagemaker-xgboost" in job["AlgorithmSpecification"]["TrainingImage"]
    assert "MetricDefinitions" not in job["AlgorithmSpecification"]


def test_pipeline_role_creates_only_isolated_encrypted_tuning_jobs(prod_stage, template_of):
    template_of(prod_stage.training).has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {
        "Statement": Match.array_with([Match.object_like({
            "Sid": "CreateIsolatedTuningJobs",
            "Action": "sagemaker:CreateHyperParameterTuningJob",
            "Resource": "arn:aws:sagemaker:eu-west-1:333333333333:hyper-parameter-tuning-job/*",
            "Condition": {"Bool": {"sagemaker:NetworkIsolation": "true",
                                   "sagemaker:InterContainerTrafficEncryption": "true"}}})])}})
    # SageMaker names a pipeline's tuning jobs itself (not `pipelines-*`): every grant on tuning jobs
    # names all of the account's, and the condition keys above are what scope the creation.
    statements = [s for p in template_of(prod_stage.training).find_resources("AWS::IAM::ManagedPolicy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    on_tuning_jobs = [s for s in statements if any("HyperParameterTuningJob" in action for action in
                                                   ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]
    assert {s["Sid"] for s in on_tuning_jobs} == {"CreateIsolatedTuningJobs", "WatchTuningJobs"}
    assert all(s["Resource"] == "arn:aws:sagemaker:eu-west-1:333333333333:hyper-parameter-tuning-job/*"
               for s in on_tuning_jobs)
