"""Catalog and Processing stacks: Glue, Lake Formation, Athena, and the key policies, from the templates."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ml_platform.config import load_config
from ml_platform.constructs.data.catalog import EVENT_SCHEMA_PATH
from ml_platform.stages.platform_stage import MlPlatformStage


@pytest.fixture(scope="module")
def catalog(dev_stage, template_of):
    return template_of(dev_stage.catalog)


@pytest.fixture(scope="module")
def processing(dev_stage, template_of):
    return template_of(dev_stage.processing)


def _props(template, cfn_type):
    return [r["Properties"] for r in template.find_resources(cfn_type).values()]


# --- Glue catalog ----------------------------------------------------------------------------

def test_one_database_per_zone_without_default_permissions(catalog):
    databases = {d["DatabaseInput"]["Name"]: d["DatabaseInput"] for d in _props(catalog, "AWS::Glue::Database")}
    assert set(databases) == {"mlp_dev_raw", "mlp_dev_curated", "mlp_dev_features"}
    assert all(d["CreateTableDefaultPermissions"] == [] for d in databases.values())


def test_table_columns_are_the_event_schema_fields(catalog):
    schema = json.loads(EVENT_SCHEMA_PATH.read_text())
    expected = [(f["name"], f["type"]) for f in schema["fields"]]
    tables = _props(catalog, "AWS::Glue::Table")
    assert {t["DatabaseName"] for t in tables} == {"mlp_dev_raw", "mlp_dev_curated"}
    for table in tables:
        columns = [(c["Name"], c["Type"]) for c in table["TableInput"]["StorageDescriptor"]["Columns"]]
        assert columns == expected
        assert table["TableInput"]["Name"] == schema["name"]
        assert [k["Name"] for k in table["TableInput"]["PartitionKeys"]] == ["event_date"]
        assert "ParquetHiveSerDe" in table["TableInput"]["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]


# --- Lake Formation --------------------------------------------------------------------------

def test_no_iam_allowed_principals_by_default(catalog):
    # IAM_ALLOWED_PRINCIPALS would come in as a default permission of the account (here) or of a database
    # (test_one_database_per_zone_without_default_permissions), or as the principal of an admin or a grant.
    settings = _props(catalog, "AWS::LakeFormation::DataLakeSettings")
    assert len(settings) == 1
    assert settings[0]["CreateDatabaseDefaultPermissions"] == []
    assert settings[0]["CreateTableDefaultPermissions"] == []
    principals = [a["DataLakePrincipalIdentifier"] for a in settings[0]["Admins"]] + [
        g["Principal"]["DataLakePrincipalIdentifier"] for g in _lf_grants(catalog)]
    assert principals and "IAM_ALLOWED_PRINCIPALS" not in principals


def test_admins_from_config(catalog):
    admins = load_config("dev").analytics.lake_formation_admin_arns
    assert admins
    settings = _props(catalog, "AWS::LakeFormation::DataLakeSettings")[0]
    assert [a["DataLakePrincipalIdentifier"] for a in settings.get("Admins", [])] == list(admins)


def test_zone_buckets_registered_with_a_data_access_role(catalog):
    locations = _props(catalog, "AWS::LakeFormation::Resource")
    assert sorted(loc["ResourceArn"] for loc in locations) == sorted(
        f"arn:aws:s3:::mlp-dev-{z}-111111111111-eu-west-1" for z in ("raw", "curated", "features"))
    assert all(loc["UseServiceLinkedRole"] is False and "RoleArn" in loc for loc in locations)


def test_databases_carry_zone_and_sensitivity_tags(catalog):
    tags = {t["TagKey"]: t["TagValues"] for t in _props(catalog, "AWS::LakeFormation::Tag")}
    assert set(tags["zone"]) == {"raw", "curated", "features"}
    assert "sensitivity" in tags
    associations = _props(catalog, "AWS::LakeFormation::TagAssociation")
    tagged = {a["Resource"]["Database"]["Name"]: {t["TagKey"]: t["TagValues"] for t in a["LFTags"]}
              for a in associations}
    assert tagged["mlp_dev_raw"]["zone"] == ["raw"]
    assert tagged["mlp_dev_features"]["zone"] == ["features"]


def _lf_grants(*templates):
    grants = []
    for template in templates:
        for p in _props(template, "AWS::LakeFormation::PrincipalPermissions"):
            grants.append(p)
    return grants


def test_every_grant_is_by_lf_tag_expression(catalog, processing, dev_stage, template_of):
    grants = _lf_grants(catalog, processing, template_of(dev_stage.ingestion))
    assert grants
    for grant in grants:
        if grant["Permissions"] == ["DATA_LOCATION_ACCESS"]:  # the crawler's registered location (issue 9 defect 5)
            assert set(grant["Resource"]) == {"DataLocation"}
            continue
        assert set(grant["Resource"]) == {"LFTagPolicy"}
        assert grant["Resource"]["LFTagPolicy"]["Expression"][0]["TagKey"] == "zone"
        assert grant["PermissionsWithGrantOption"] == []


def test_sagemaker_roles_granted_by_stable_arn(processing):
    principals = [g["Principal"]["DataLakePrincipalIdentifier"] for g in _lf_grants(processing)]
    for purpose in ("sagemaker-processing", "sagemaker-training"):
        assert f"arn:aws:iam::111111111111:role/mlp-dev-{purpose}" in principals


def test_analyst_reads_curated_and_features_only(catalog, dev_stage, reference):
    analyst = reference(dev_stage.catalog, dev_stage.catalog.analyst_role)
    grants = [g for g in _lf_grants(catalog) if g["Principal"]["DataLakePrincipalIdentifier"] == analyst]
    assert grants
    for grant in grants:
        assert set(grant["Resource"]["LFTagPolicy"]["Expression"][0]["TagValues"]) == {"curated", "features"}
        assert set(grant["Permissions"]) <= {"SELECT", "DESCRIBE"}


# --- Athena ----------------------------------------------------------------------------------

def test_athena_enforced_kms_results_and_cutoff(catalog, dev_stage, reference):
    workgroup = _props(catalog, "AWS::Athena::WorkGroup")[0]["WorkGroupConfiguration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    cutoff_mb = load_config("dev").analytics.athena_bytes_scanned_cutoff_mb
    assert workgroup["BytesScannedCutoffPerQuery"] == cutoff_mb * 1024 * 1024
    results = workgroup["ResultConfiguration"]
    assert results["OutputLocation"] == "s3://mlp-dev-artifacts-111111111111-eu-west-1/athena-results/"
    assert results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert results["EncryptionConfiguration"]["KmsKey"] == reference(dev_stage.catalog, dev_stage.security.keys.models)


# --- Glue jobs, crawler, workflow ------------------------------------------------------------

def test_security_configuration_encrypts_s3_logs_and_bookmarks(processing):
    config = _props(processing, "AWS::Glue::SecurityConfiguration")[0]["EncryptionConfiguration"]
    assert config["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert config["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert config["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_every_job_and_crawler_names_the_security_configuration(processing):
    security_id = next(iter(processing.find_resources("AWS::Glue::SecurityConfiguration")))
    jobs = _props(processing, "AWS::Glue::Job")
    crawlers = _props(processing, "AWS::Glue::Crawler")
    assert len(jobs) == 2 and len(crawlers) == 1
    assert all(j["SecurityConfiguration"] == {"Ref": security_id} for j in jobs)
    assert all(c["CrawlerSecurityConfiguration"] == {"Ref": security_id} for c in crawlers)


def test_jobs_in_vpc_with_workers_from_config(dev_stage, prod_stage, template_of):
    for stage, (workers, worker_type) in ((dev_stage, (2, "G.1X")), (prod_stage, (10, "G.2X"))):
        for job in _props(template_of(stage.processing), "AWS::Glue::Job"):
            assert (job["NumberOfWorkers"], job["WorkerType"]) == (workers, worker_type)
            assert job["GlueVersion"] == "5.0"
            assert job["Timeout"] == 60
            assert len(job["Connections"]["Connections"]) == 1
            assert job["DefaultArguments"]["--extra-py-files"].endswith(".zip")


def test_connection_is_network_type_in_the_vpc(processing, dev_stage, reference):
    connection = _props(processing, "AWS::Glue::Connection")[0]["ConnectionInput"]
    assert connection["ConnectionType"] == "NETWORK"
    network, stack = dev_stage.network.network, dev_stage.processing
    requirements = connection["PhysicalConnectionRequirements"]
    assert requirements["SubnetId"] == reference(stack, network.vpc.isolated_subnets[0], None)
    assert requirements["SecurityGroupIdList"] == [reference(stack, network.workload_security_group, "GroupId")]


def _job(processing, name):
    return next(j for j in _props(processing, "AWS::Glue::Job") if j["Name"] == name)


def test_bookmarks_per_glue_jobs_readme(processing):
    # raw -> curated is incremental; curated -> features re-reads the whole curated zone.
    assert _job(processing, "mlp-dev-raw-to-curated")["DefaultArguments"]["--job-bookmark-option"] == \
        "job-bookmark-enable"
    assert _job(processing, "mlp-dev-curated-to-features")["DefaultArguments"]["--job-bookmark-option"] == \
        "job-bookmark-disable"


def test_job_arguments_point_at_the_zone_buckets(processing):
    bucket = "s3://mlp-dev-{}-111111111111-eu-west-1/"
    raw_job = _job(processing, "mlp-dev-raw-to-curated")["DefaultArguments"]
    assert raw_job["--source_path"] == bucket.format("raw") + "events/"
    assert raw_job["--target_path"] == bucket.format("curated") + "events/"
    assert raw_job["--source_format"] == "parquet"
    assert raw_job["--schema_path"].endswith(".json")
    features_job = _job(processing, "mlp-dev-curated-to-features")["DefaultArguments"]
    assert features_job["--source_path"] == bucket.format("curated") + "events/"
    assert features_job["--target_path"].startswith(bucket.format("features"))
    assert features_job["--csv_output_path"] == bucket.format("features") + \
        load_config("dev").training.training_ready_prefix
    assert features_job["--stats_path"].startswith(bucket.format("artifacts"))
    assert features_job["--split_ratios"] == "0.7,0.15,0.15"


def test_workflow_chains_jobs_then_crawler(processing, dev_stage):
    triggers = _props(processing, "AWS::Glue::Trigger")
    start = [t for t in triggers if t["Type"] in ("ON_DEMAND", "SCHEDULED")]
    conditional = [t for t in triggers if t["Type"] == "CONDITIONAL"]
    assert len(start) == 1 and len(conditional) == 2
    assert all(t["StartOnCreation"] is True for t in conditional)
    crawls = [a for t in conditional for a in t["Actions"] if "CrawlerName" in a]
    assert [a["CrawlerName"] for a in crawls] == [dev_stage.processing.resolve(dev_stage.processing.crawler.name)]


def test_prod_workflow_runs_on_the_configured_schedule(prod_stage, template_of):
    start = [t for t in _props(template_of(prod_stage.processing), "AWS::Glue::Trigger") if t["Type"] == "SCHEDULED"]
    assert [t["Schedule"] for t in start] == [load_config("prod").etl.schedule_cron]
    assert start[0]["StartOnCreation"] is True


def test_emr_serverless_off_by_default(processing):
    processing.resource_count_is("AWS::EMRServerless::Application", 0)


# --- roles and keys --------------------------------------------------------------------------

def test_key_policies_list_the_data_platform_roles(dev_stage, template_of):
    keys = template_of(dev_stage.security).find_resources("AWS::KMS::Key")
    allowed = {}
    for logical_id, key in keys.items():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            if statement["Sid"] == "UseByDomainRoles":
                allowed[logical_id] = set(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    arn = "arn:aws:iam::111111111111:role/mlp-dev-{}".format
    by_domain = {d: next(v for k, v in allowed.items() if k.startswith(d.capitalize())) for d in
                 ("lake", "models", "logs", "streaming")}
    assert {arn("firehose-delivery"), arn("stream-transform")} <= by_domain["streaming"]
    assert {arn("firehose-delivery"), arn("glue-etl"), arn("glue-crawler"),
            arn("lake-formation-data-access")} <= by_domain["lake"]
    assert {arn("glue-etl"), arn("analyst")} <= by_domain["models"]
    assert {arn("glue-etl"), arn("glue-crawler")} <= by_domain["logs"]


def test_roles_are_platform_roles_without_inline_policies(dev_stage, template_of):
    for stack in (dev_stage.catalog, dev_stage.processing):
        template_of(stack).resource_count_is("AWS::IAM::Policy", 0)
    names = {r["Properties"]["RoleName"] for stack in (dev_stage.catalog, dev_stage.processing)
             for r in template_of(stack).find_resources("AWS::IAM::Role").values()}
    assert names == {f"mlp-dev-{p}" for p in ("lake-formation-data-access", "analyst", "glue-etl", "glue-crawler")}


def test_emr_serverless_when_enabled_runs_in_the_vpc_with_a_job_role(reference):
    config = load_config("dev")
    config = config.model_copy(update={"etl": config.etl.model_copy(update={"emr_serverless": True})})
    context = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
    stage = MlPlatformStage(cdk.App(context=context), "Dev", config=config)
    template = Template.from_stack(stage.processing)
    app = _props(template, "AWS::EMRServerless::Application")[0]
    assert app["Type"] == "Spark"
    assert app["NetworkConfiguration"]["SubnetIds"] == [
        reference(stage.processing, subnet, None) for subnet in stage.network.network.vpc.isolated_subnets]
    assert app["AutoStopConfiguration"]["Enabled"] is True
    roles = {r["RoleName"] for r in _props(template, "AWS::IAM::Role")}
    assert "mlp-dev-emr-serverless-job" in roles
