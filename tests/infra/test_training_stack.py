"""Training stack: triggers, roles, registry, image and code bundle (properties, not logical ids)."""
from __future__ import annotations

import gzip
import io
import json
import socket
import tarfile
from pathlib import Path

from ml_platform.config import load_config
from ml_platform.constructs.training.code_bundle import pack_source_dir
from ml_platform.constructs.training.training_pipeline_definition import build_training_pipeline_definition
from ml_platform.constructs.training.training_pipeline_spec import Placement, TrainingPipelineSpec
from ml_platform.constructs.training.xgboost_image import XGBOOST_IMAGE_ACCOUNTS, xgboost_image_uri

REPO = Path(__file__).resolve().parents[2]
PIPELINE_ARN = "arn:aws:sagemaker:eu-west-1:{account}:pipeline/mlp-{env}-training"


def _rules(template):
    return list(template.find_resources("AWS::Events::Rule").values())


def _statements(template):
    for policy in template.find_resources("AWS::IAM::ManagedPolicy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_schedule_only_where_configured(dev_stage, prod_stage, template_of):
    schedules = lambda t: [r for r in _rules(t) if "ScheduleExpression" in r["Properties"]]
    assert schedules(template_of(dev_stage.training)) == []
    (rule,) = schedules(template_of(prod_stage.training))
    assert rule["Properties"]["ScheduleExpression"] == load_config("prod").training.schedule_cron
    assert rule["Properties"]["Targets"][0]["Arn"] == PIPELINE_ARN.format(account="333333333333", env="prod")
    assert "RoleArn" in rule["Properties"]["Targets"][0]


def test_new_training_ready_data_starts_the_pipeline(dev_stage, template_of):
    (rule,) = [r for r in _rules(template_of(dev_stage.training))
               if r["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert "FeaturesBucket" in pattern["detail"]["bucket"]["name"][0]["Fn::ImportValue"]
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "training-ready/*_SUCCESS"}]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == PIPELINE_ARN.format(account="111111111111", env="dev")
    assert "EventsRole" in target["RoleArn"]["Fn::GetAtt"][0]


def test_features_bucket_sends_events_to_eventbridge(dev_stage, template_of):
    buckets = template_of(dev_stage.data_lake).find_resources("AWS::S3::Bucket")
    enabled = [b["Properties"]["BucketName"] for b in buckets.values()
               if b["Properties"].get("NotificationConfiguration", {}).get("EventBridgeConfiguration")]
    assert enabled == ["mlp-dev-features-111111111111-eu-west-1"]


def test_failed_executions_notify_the_alert_topic(dev_stage, template_of):
    (rule,) = [r for r in _rules(template_of(dev_stage.training))
               if r["Properties"]["EventPattern"].get("source") == ["aws.sagemaker"]]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["SageMaker Model Building Pipeline Execution Status Change"]
    assert pattern["detail"] == {"currentPipelineExecutionStatus": ["Failed"],
                                 "pipelineArn": [PIPELINE_ARN.format(account="111111111111", env="dev")]}
    (target,) = rule["Properties"]["Targets"]
    assert "AlertsTopic" in target["Arn"]["Fn::ImportValue"]


def test_events_role_may_only_start_this_pipeline(dev_stage, template_of):
    t = template_of(dev_stage.training)
    starts = [s for s in _statements(t) if "sagemaker:StartPipelineExecution" in _as_list(s["Action"])]
    assert len(starts) == 1
    assert starts[0]["Action"] == "sagemaker:StartPipelineExecution"
    assert starts[0]["Resource"] == PIPELINE_ARN.format(account="111111111111", env="dev")


def test_roles_have_stable_names_and_no_service_wide_grants(dev_stage, template_of):
    t = template_of(dev_stage.training)
    names = {r["Properties"]["RoleName"] for r in t.find_resources("AWS::IAM::Role").values()}
    assert names == {f"mlp-dev-{p}" for p in ("sagemaker-pipeline", "sagemaker-processing",
                                              "sagemaker-training", "events-start-pipeline")}
    assert t.find_resources("AWS::IAM::Policy") == {}  # no inline policies
    for statement in _statements(t):
        actions = _as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if any(a.startswith("sagemaker:") for a in actions):
            assert statement["Resource"] != "*", statement


def test_pipeline_may_pass_only_the_job_roles_to_sagemaker(dev_stage, template_of):
    (statement,) = [s for s in _statements(template_of(dev_stage.training)) if s["Action"] == "iam:PassRole"]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert len(_as_list(statement["Resource"])) == 2


def test_job_roles_are_key_users(dev_stage, template_of):
    keys = template_of(dev_stage.security).find_resources("AWS::KMS::Key")
    users = {k["Properties"]["Description"].split(": ")[1]:
             next(s for s in k["Properties"]["KeyPolicy"]["Statement"] if s["Sid"] == "UseByDomainRoles")
             ["Condition"]["ArnEquals"]["aws:PrincipalArn"] for k in keys.values()
             if any(s["Sid"] == "UseByDomainRoles" for s in k["Properties"]["KeyPolicy"]["Statement"])}
    models = next(v for k, v in users.items() if k.startswith("Model artifacts"))
    for purpose in ("sagemaker-processing", "sagemaker-training", "sagemaker-pipeline"):
        assert f"arn:aws:iam::111111111111:role/mlp-dev-{purpose}" in models


def test_image_table_matches_the_sagemaker_sdk():
    from sagemaker.core import image_uris
    for region in XGBOOST_IMAGE_ACCOUNTS:
        assert xgboost_image_uri(region, "3.2-0") == image_uris.retrieve(
            "xgboost", region=region, version="3.2-0", image_scope="training", instance_type="ml.c5.xlarge")


def test_code_bundle_is_reproducible_and_holds_the_entry_points():
    first = pack_source_dir(REPO / "training_code")
    assert first == pack_source_dir(REPO / "training_code")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first))) as archive:
        names = set(archive.getnames())
    assert {"train.py", "inference.py", "metric_definitions.json"} <= names
    assert not any("__pycache__" in n for n in names)


def test_definition_is_built_without_any_network_call(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the pipeline definition tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    spec = TrainingPipelineSpec(
        name="offline", region="eu-west-1", image_uri=xgboost_image_uri("eu-west-1", "3.2-0"),
        code_uri="s3://code-bucket/abc.gz", code_file_name="abc.gz",
        processing_role_arn="arn:aws:iam::111111111111:role/p", training_role_arn="arn:aws:iam::111111111111:role/t",
        artifacts_bucket="artifacts", default_input_uri="s3://features/training-ready/",
        model_package_group="group", training=load_config("staging").training,
        placement=Placement(subnet_ids=("subnet-1",), security_group_id="sg-1", kms_key_arn="arn:kms"))
    definition = build_training_pipeline_definition(spec)
    assert json.loads(json.dumps(definition)) == definition  # plain JSON: embeds as PipelineDefinitionBody
    assert len(definition["Steps"]) == 4
