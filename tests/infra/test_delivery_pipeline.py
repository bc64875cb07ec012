"""Delivery pipeline: source, synth, dev -> staging -> approval -> prod, encryption, config, the gate."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match, Template

from ml_platform.config import CONFIG_DIR, ENVIRONMENTS, ConfigError, load_config, load_pipeline_config
from ml_platform.nag import PACK_PREFIXES
from ml_platform.report import read_acknowledgments, read_violations
from ml_platform.stacks.delivery_pipeline_stack import APPROVAL_STEP_ID, SYNTH_OUTPUT_DIR, DeliveryPipelineStack

REPO = Path(__file__).resolve().parents[2]
CDK_CONTEXT = json.loads((REPO / "cdk.json").read_text())["context"]


@pytest.fixture(scope="module")
def pipeline_stack() -> DeliveryPipelineStack:
    config = load_pipeline_config()
    app = cdk.App(context=CDK_CONTEXT)
    return DeliveryPipelineStack(
        app, "Pipeline", config=config, environments=[load_config(env) for env in ENVIRONMENTS],
        cli_version="2.1148.1", availability_zones=[f"{config.region}a"],
        env=cdk.Environment(account=config.account, region=config.region))


@pytest.fixture(scope="module")
def template(pipeline_stack) -> Template:
    return Template.from_stack(pipeline_stack)


@pytest.fixture(scope="module")
def stages(template) -> list[dict]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def _stage(stages: list[dict], name: str) -> dict:
    return next(s for s in stages if s["Name"] == name)


def test_source_is_the_configured_connection_repository_and_branch(stages):
    config = load_pipeline_config()
    (action,) = _stage(stages, "Source")["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert action["Configuration"] == {"ConnectionArn": config.connection_arn,
                                       "FullRepositoryId": config.repository, "BranchName": config.branch}


def test_synth_step_runs_make_synth_without_docker(template, stages):
    (action,) = _stage(stages, "Build")["Actions"]
    project_id = action["Configuration"]["ProjectName"]["Ref"]
    project = template.find_resources("AWS::CodeBuild::Project")[project_id]["Properties"]
    spec = json.loads(project["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == ["make synth"]
    assert "install" not in spec["phases"]  # the Makefile sets up the venv and the pinned CDK CLI
    assert spec["artifacts"]["base-directory"] == SYNTH_OUTPUT_DIR
    assert project["Environment"]["PrivilegedMode"] is False


def test_stages_promote_dev_then_staging_then_prod(stages):
    names = [s["Name"] for s in stages]
    assert names.index("Source") < names.index("Build") < names.index("Dev") < names.index("Staging") \
        < names.index("Prod")


def test_manual_approval_comes_before_every_prod_deploy_action(stages):
    prod = _stage(stages, "Prod")["Actions"]
    (approval,) = [a for a in prod if a["ActionTypeId"]["Category"] == "Approval"]
    assert approval["Name"] == APPROVAL_STEP_ID
    deploys = [a for a in prod if a["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys and approval["RunOrder"] < min(a["RunOrder"] for a in deploys)
    for name in ("Dev", "Staging"):
        assert all(a["ActionTypeId"]["Category"] == "Deploy" for a in _stage(stages, name)["Actions"])


def test_approval_notifies_the_configured_email_on_an_encrypted_topic(template, stages):
    (approval,) = [a for a in _stage(stages, "Prod")["Actions"] if a["ActionTypeId"]["Category"] == "Approval"]
    topic_id = approval["Configuration"]["NotificationArn"]["Ref"]
    topic = template.find_resources("AWS::SNS::Topic")[topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic
    template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": load_pipeline_config().approval_email, "TopicArn": {"Ref": topic_id}})


def test_each_stage_deploys_its_own_environment_account(pipeline_stack, stages):
    for env, stage in zip(ENVIRONMENTS, pipeline_stack.stages, strict=True):
        config = load_config(env)
        assert (stage.account, stage.region) == (config.account, config.region)
        actions = _stage(stages, env.capitalize())["Actions"]
        role_arns = json.dumps([a["RoleArn"] for a in actions if a["ActionTypeId"]["Category"] == "Deploy"])
        assert f"cdk-hnb659fds-deploy-role-{config.account}-{config.region}" in role_arns
        assert all(a.get("Region", config.region) == config.region for a in actions)


def test_artifact_bucket_is_kms_encrypted_versioned_and_logged(template):
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()}}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "LoggingConfiguration": {"DestinationBucketName": Match.any_value(), "LogFilePrefix": "artifacts/"},
        "PublicAccessBlockConfiguration": Match.object_like({"BlockPublicAcls": True, "RestrictPublicBuckets": True}),
    })
    # cross_account_keys=True with rotation: the artifact key is a customer-managed, rotating key.
    keys = template.find_resources("AWS::KMS::Key")
    assert keys and all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())


def test_every_codebuild_project_is_encrypted_and_logs_to_the_encrypted_log_group(template):
    (log_group_id, log_group), = template.find_resources("AWS::Logs::LogGroup").items()
    assert "KmsKeyId" in log_group["Properties"]
    assert log_group["Properties"]["RetentionInDays"] == load_pipeline_config().log_retention_days
    projects = template.find_resources("AWS::CodeBuild::Project")
    assert len(projects) >= 3  # synth, self-mutation, asset publishing
    for project in projects.values():
        props = project["Properties"]
        assert "EncryptionKey" in props
        assert props["LogsConfig"]["CloudWatchLogs"] == {"GroupName": {"Ref": log_group_id}, "Status": "ENABLED"}
        assert props["Environment"]["PrivilegedMode"] is False


def test_pipeline_and_synth_roles_keep_grants_out_of_inline_policies(template):
    for name in ("mlp-cicd-delivery-pipeline", "mlp-cicd-delivery-synth"):
        (role_id,) = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": name}})
        assert not template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})


def test_tooling_tags_on_pipeline_resources_and_environment_tags_stay_on_stages(template, pipeline_stack):
    (bucket,) = [b for b in template.find_resources("AWS::S3::Bucket").values()
                 if "LoggingConfiguration" in b["Properties"]]
    assert {"Key": "Environment", "Value": "tooling"} in bucket["Properties"]["Tags"]
    dev_operations = Template.from_stack(pipeline_stack.stages[0].operations).to_json()
    environments = {tag["Value"] for r in dev_operations["Resources"].values()
                    for tag in (r.get("Properties", {}).get("Tags") or [])
                    if isinstance(tag, dict) and tag.get("Key") == "Environment"}
    assert environments == {"dev"}


# --- configuration ------------------------------------------------------------------------------

def _write_pipeline(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((CONFIG_DIR / "pipeline.yaml").read_text())
    mutate(data)
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


BAD_PIPELINE_INPUTS = [
    ("bad connection ARN", lambda d: d.update(connection_arn="arn:aws:s3:::not-a-connection"),
     "connection_arn", "connection ARN"),
    ("unknown key", lambda d: d.update(brnach="main"), "brnach", "unknown key"),
    ("account not 12 digits", lambda d: d.update(account="4444"), "account", "12-digit"),
    ("account as a number", lambda d: d.update(account=444444444444), "account", "string"),
    ("repository not owner/name", lambda d: d.update(repository="ml-platform"), "repository", "owner/name"),
    ("bad approval e-mail", lambda d: d.update(approval_email="nobody"), "approval_email", "e-mail"),
    ("retention CloudWatch refuses", lambda d: d.update(log_retention_days=31), "log_retention_days", "retention"),
    ("unknown tag key", lambda d: d["tags"].update(team="x"), "tags.team", "unknown key"),
]


@pytest.mark.parametrize(("case", "mutate", "field", "reason"), BAD_PIPELINE_INPUTS,
                         ids=[c[0] for c in BAD_PIPELINE_INPUTS])
def test_bad_pipeline_config_names_file_field_and_reason(tmp_path, case, mutate, field, reason):
    config_dir = _write_pipeline(tmp_path, mutate)
    with pytest.raises(ConfigError) as exc:
        load_pipeline_config(config_dir)
    message = str(exc.value)
    assert str(config_dir / "pipeline.yaml") in message
    assert f"- {field}:" in message
    assert reason in message


def test_missing_pipeline_config_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="pipeline.yaml"):
        load_pipeline_config(tmp_path)


def test_shipped_pipeline_config_is_valid():
    config = load_pipeline_config()
    assert config.tags.environment == "tooling"
    assert config.account not in {load_config(env).account for env in ENVIRONMENTS}


# --- the pipeline mode through app.py: nag gate, reports, cfn-lint -------------------------------

@pytest.fixture(scope="module")
def pipeline_assembly(tmp_path_factory, synth_like_the_cli) -> Path:
    return synth_like_the_cli(tmp_path_factory.mktemp("cdk.pipeline.out"), pipeline="true")


def test_pipeline_mode_builds_only_the_pipeline_stack(pipeline_assembly):
    manifest = json.loads((pipeline_assembly / "manifest.json").read_text())
    stacks = [n for n, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"]
    assert stacks == ["Pipeline"]
    nested = {n for n, a in manifest["artifacts"].items() if a["type"] == "cdk:cloud-assembly"}
    assert nested == {"assembly-Pipeline-Dev", "assembly-Pipeline-Staging", "assembly-Pipeline-Prod"}


def test_pipeline_mode_has_no_unacknowledged_nag_error(pipeline_assembly):
    assert read_violations(pipeline_assembly) == []


def test_pipeline_mode_passes_the_cdk_cli_validation(pipeline_assembly):
    # The CDK CLI fails synth and deploy (the pipeline's self-mutation) of the Pipeline stack when a
    # pack's report concludes "failure", which cdk-nag does for unacknowledged warnings too.
    report = pipeline_assembly / "validation-report.json"
    if report.is_file():
        failing = [(p["pluginName"], [v["ruleName"] for v in p["violations"]])
                   for p in json.loads(report.read_text())["pluginReports"]
                   if p.get("conclusion") == "failure" and p["violations"]]
        assert failing == []


def test_pipeline_mode_reports_per_environment(pipeline_assembly):
    acks = read_acknowledgments(pipeline_assembly)
    assert {a.environment for a in acks} == {"Pipeline", "Pipeline/Dev", "Pipeline/Staging", "Pipeline/Prod"}
    for name in ("pipeline", "pipeline-dev", "pipeline-staging", "pipeline-prod"):
        text = (pipeline_assembly / f"security-report-{name}.md").read_text()
        assert "Gate: **passed**" in text
        for pack in PACK_PREFIXES.values():
            assert f"| {pack} |" in text


def test_pipeline_mode_cfn_lint_finds_no_error(pipeline_assembly, cfn_lint_errors):
    assert cfn_lint_errors(pipeline_assembly, min_templates=10) == ""
