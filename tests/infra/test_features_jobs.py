"""The feature store's Glue jobs (backfill, point-in-time training set), the training pipeline's
`features.training_source` switch on both settings, and the model role's online reads."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match, Template

from ml_platform.config import CONFIG_DIR, ConfigError, load_config
from ml_platform.stages.platform_stage import MlPlatformStage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime" / "features"))
from features_testkit import TARGETS  # noqa: E402

CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
ACCOUNT, REGION = "111111111111", "eu-west-1"
FEATURES_BUCKET = f"mlp-dev-features-{ACCOUNT}-{REGION}"


def _dev_yaml(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text())
    change(raw["features"], raw)
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(raw))
    return tmp_path


def _from_store(features, _raw) -> None:
    features["training_source"] = "feature_store"


@pytest.fixture(scope="module")
def store_stage(tmp_path_factory) -> MlPlatformStage:
    """Dev with `features.training_source: feature_store` (the shipped files all train on the ETL)."""
    config = load_config("dev", _dev_yaml(tmp_path_factory.mktemp("config"), _from_store))
    return MlPlatformStage(cdk.App(context=CDK_CONTEXT), "Dev", config=config)


@pytest.fixture(scope="module")
def features(dev_stage, template_of):
    return template_of(dev_stage.feature_store)


def _jobs(template) -> dict[str, dict]:
    return {j["Properties"]["Name"]: j["Properties"] for j in template.find_resources("AWS::Glue::Job").values()}


def _input_uri(template) -> str:
    (pipeline,) = template.find_resources("AWS::SageMaker::Pipeline").values()
    body, _ = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    params = {p["Name"]: p for p in json.loads(body)["Parameters"]}
    return params["InputDataUri"]["DefaultValue"]


def test_a_backfill_job_per_group_writes_with_the_ingestion_functions_mapping(features):
    # GIVEN dev's two groups WHEN synthesized THEN each has an on-demand backfill job whose target is
    # the group's FEATURE_TARGETS entry, with its own ledger, in the VPC, under its security configuration
    jobs = _jobs(features)
    for target, group in zip(TARGETS, ("transactions", "customer-profile"), strict=True):
        job = jobs[f"mlp-dev-backfill-{group}"]
        args = job["DefaultArguments"]
        assert json.loads(args["--feature_target"]) == target
        assert args["--ledger_path"] == f"s3://{FEATURES_BUCKET}/feature-store-backfill/{group}-v1/ledger/"
        assert args["--source_path"] == f"s3://mlp-dev-curated-{ACCOUNT}-{REGION}/events/"
        assert args["--job-bookmark-option"] == "job-bookmark-disable"
        assert job["Connections"] == {"Connections": ["mlp-dev-glue-features-vpc"]}
        assert set(job["SecurityConfiguration"]) == {"Ref"} and job["Command"]["ScriptLocation"].endswith(".py")
    features.has_resource_properties("AWS::Glue::SecurityConfiguration", {
        "Name": "mlp-dev-glue-features", "EncryptionConfiguration": {
            "S3Encryptions": [Match.object_like({"S3EncryptionMode": "SSE-KMS"})],
            "CloudWatchEncryption": Match.object_like({"CloudWatchEncryptionMode": "SSE-KMS"}),
            "JobBookmarksEncryption": Match.object_like({"JobBookmarksEncryptionMode": "CSE-KMS"})}})


def test_backfill_role_puts_records_on_the_groups(features):
    features.has_resource_properties("AWS::IAM::Role", {"RoleName": "mlp-dev-feature-backfill"})
    features.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": "sagemaker:PutRecord", "Resource": [
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/mlp-dev-customer-profile-v1",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/mlp-dev-transactions-v1"]})])}})


def test_training_set_job_reads_every_offline_store_as_iceberg_and_writes_its_own_prefix(features):
    job = _jobs(features)["mlp-dev-feature-training-set"]
    args = job["DefaultArguments"]
    groups = {g["table"]: g for g in json.loads(args["--feature_groups"])}
    assert set(groups) == {"glue_catalog.mlp_dev_features.mlp_dev_transactions_v1",
                           "glue_catalog.mlp_dev_features.mlp_dev_customer_profile_v1"}
    profile = groups["glue_catalog.mlp_dev_features.mlp_dev_customer_profile_v1"]
    assert profile["join_key"] == "customer_id" and profile["features"] == {
        "account_age_days": "account_age_days", "num_prev_transactions": "num_prev_transactions"}
    assert "customer_id" not in groups["glue_catalog.mlp_dev_features.mlp_dev_transactions_v1"]["features"]
    assert args["--csv_output_path"] == f"s3://{FEATURES_BUCKET}/training-ready-from-store/"
    assert args["--datalake-formats"] == "iceberg"
    assert "spark.sql.catalog.glue_catalog.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog" in args["--conf"]
    # Its role reads the offline tables through the groups' grant_read_offline (Glue, S3, Lake Formation).
    features.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": Match.array_with(["glue:GetTable"]), "Resource": Match.array_with([
            f"arn:aws:glue:{REGION}:{ACCOUNT}:table/mlp_dev_features/mlp_dev_transactions_v1"])})])}})
    features.has_resource_properties("AWS::LakeFormation::PrincipalPermissions", {
        "Principal": {"DataLakePrincipalIdentifier": {"Fn::GetAtt": [Match.string_like_regexp("FeatureTrainingSetRole"),
                                                                     "Arn"]}},
        "Resource": {"LFTagPolicy": Match.object_like({"Expression": [{"TagKey": "zone", "TagValues": ["features"]}]})},
        "Permissions": ["SELECT", "DESCRIBE"]})


def test_with_the_etl_as_source_training_reads_the_etl_channels_and_no_trigger_joins_the_workflow(
        dev_stage, template_of, features):
    assert load_config("dev").features.training_source == "etl"
    assert _input_uri(template_of(dev_stage.training)) == "s3://${Features}/training-ready/"
    template_of(dev_stage.training).has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "detail": {"object": {"key": [{"wildcard": "training-ready/*_SUCCESS"}]}, "bucket": Match.any_value()},
        "source": ["aws.s3"], "detail-type": ["Object Created"]}})
    assert features.find_resources("AWS::Glue::Trigger") == {}


def test_with_the_store_as_source_training_reads_and_is_started_by_the_point_in_time_set(store_stage):
    # GIVEN features.training_source: feature_store WHEN synthesized
    training, store = Template.from_stack(store_stage.training), Template.from_stack(store_stage.feature_store)
    # THEN the pipeline's input is the point-in-time job's CSV prefix, and its _SUCCESS starts training
    assert _input_uri(training) == "s3://${Features}/training-ready-from-store/"
    training.has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.object_like({
        "detail": {"object": {"key": [{"wildcard": "training-ready-from-store/*_SUCCESS"}]}, "bucket": Match.any_value()}})})
    training.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Resource": Match.array_with([
            f"arn:aws:s3:::{FEATURES_BUCKET}/training-ready-from-store/*"])})])}})
    # AND the ETL workflow starts the point-in-time job once raw_to_curated has succeeded
    store.has_resource_properties("AWS::Glue::Trigger", {
        "WorkflowName": "mlp-dev-etl", "Type": "CONDITIONAL", "StartOnCreation": True,
        "Predicate": {"Logical": "AND", "Conditions": [
            {"JobName": "mlp-dev-raw-to-curated", "LogicalOperator": "EQUALS", "State": "SUCCEEDED"}]},
        "Actions": [{"JobName": Match.object_like({"Ref": Match.string_like_regexp("TrainingSetJob")})}]})
    assert store_stage.processing in store_stage.feature_store.dependencies


@pytest.mark.parametrize("change,message", [
    (lambda f, _: f["groups"][0]["features"].pop(8),
     "no group with an offline store has a feature with source 'amount'"),
    (lambda f, _: f["groups"][1]["features"].append({"name": "amount_30d", "type": "Fractional", "source": "amount"}),
     "both provide 'amount'"),
    (lambda f, _: f.update(training_set_prefix="training-ready/store/"), "must not contain one another"),
    (lambda f, _: f.update(training_set_prefix="feature-store/training/"), "is under 'feature-store/'"),
    (lambda f, _: f["groups"][1].update(offline_store=False, ingestion={"target_stores": ["OnlineStore"]}),
     "source 'account_age_days'"),
])
def test_a_training_set_the_pipeline_could_not_use_is_refused(tmp_path, change, message):
    def both(features, raw):
        _from_store(features, raw)
        change(features, raw)
    with pytest.raises(ConfigError) as err:
        load_config("dev", _dev_yaml(tmp_path, both), check_feature_lock=False)
    assert str(tmp_path / "dev.yaml") in str(err.value) and message in str(err.value)


def test_the_model_role_reads_the_online_stores_and_may_use_their_key(dev_stage, features, template_of):
    features.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "Roles": ["mlp-dev-sagemaker-model"], "PolicyDocument": {"Statement": Match.array_with([
            Match.object_like({"Action": ["sagemaker:BatchGetRecord", "sagemaker:GetRecord"], "Resource": [
                f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/mlp-dev-customer-profile-v1",
                f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/mlp-dev-transactions-v1"]}),
            Match.object_like({"Action": "kms:Decrypt"})])}})
    template_of(dev_stage.security).has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([
        Match.object_like({"Sid": "UseByDomainRoles", "Condition": {"ArnEquals": {"aws:PrincipalArn": Match.array_with([
            f"arn:aws:iam::{ACCOUNT}:role/mlp-dev-feature-backfill",
            f"arn:aws:iam::{ACCOUNT}:role/mlp-dev-feature-training-set",
            f"arn:aws:iam::{ACCOUNT}:role/mlp-dev-sagemaker-model"])}}})])}})
    assert dev_stage.serving in dev_stage.feature_store.dependencies


def test_training_from_the_store_passes_the_security_gate(tmp_path):
    # GIVEN dev switched to the store WHEN synthesized with every nag pack THEN no unacknowledged error
    from ml_platform import nag
    from ml_platform.report import read_violations
    config = load_config("dev", _dev_yaml(tmp_path, _from_store))
    app = cdk.App(context=CDK_CONTEXT, outdir=str(tmp_path / "out"))
    MlPlatformStage(app, "Dev", config=config)
    nag.add_rule_packs(app)
    app.synth()
    assert read_violations(tmp_path / "out") == []
