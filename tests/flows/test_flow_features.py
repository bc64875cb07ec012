"""Feature-store flows: the ingestion function (its event source mapping on the stream, PutRecord on
each group through the Feature Store runtime endpoint, its queues, logs), the backfill jobs'
PutRecord, the point-in-time job's offline reads (S3 with the lake key, the Glue catalog, Lake
Formation SELECT on the offline tables), each offline-store role writing its Iceberg table, the
model role's online reads, and what CloudFormation's execution role needs of the lake key for
CreateFeatureGroup."""
from __future__ import annotations

import json

import pytest
from flowcheck.calls import (
    Call,
    DataLocation,
    LakeFormationPermission,
    assume,
    kinesis_read,
    s3_read,
    sqs_send,
)
from flowcheck.evaluate import evaluate
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import boto3_calls, functions, iam_actions
from flowcheck.policy import Principal, Request

from ml_platform.config import ENVIRONMENTS, load_config
from ml_platform.constants import RolePurpose
from ml_platform.naming import Naming

RUNTIME_SERVICE = "sagemaker.featurestore-runtime"
# The bootstrap's CloudFormation execution role has AdministratorAccess unless `cdk bootstrap` is
# given other --cloudformation-execution-policies: only the key policy can stop it.
ADMINISTRATOR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _groups(platform) -> dict[str, dict]:
    stage = platform.stage
    return {p["FeatureGroupName"]: p for p in (stage.properties(s, r) for s, _, r in
                                               stage.resources("AWS::SageMaker::FeatureGroup"))}


def _group_arn(platform, name: str) -> str:
    return f"arn:aws:sagemaker:{platform.region}:{platform.account}:feature-group/{name}"


def _online_key(group: dict) -> str:
    return group["OnlineStoreConfig"]["SecurityConfig"]["KmsKeyId"]


def _put_record(platform, role, group: dict, why: str) -> list:
    """PutRecord and the online store's key (data-plane callers decrypt with it)."""
    return [Call(role, "sagemaker:PutRecord", _group_arn(platform, group["FeatureGroupName"]), {}, why),
            Call(role, "kms:Decrypt", _online_key(group), {}, f"{why}: online store key")]


@pytest.fixture(scope="module")
def ingestion(platforms, cdk_out):
    return {env: functions(p, cdk_out / f"assembly-{env.capitalize()}")["feature_ingestion"]
            for env, p in platforms.items()}


def _mapping(platform, function_arn: str) -> dict:
    stage = platform.stage
    (mapping,) = [p for p in (stage.properties(s, r) for s, _, r in stage.resources("AWS::Lambda::EventSourceMapping"))
                  if p["FunctionName"] in (function_arn, function_arn.split(":")[-1])]
    return mapping


def _queue_arn(platform, url: str) -> str:
    name = url.rstrip("/").split("/")[-1]
    return f"arn:aws:sqs:{platform.region}:{platform.account}:{name}"


def ingestion_flow(platform, function) -> Flow:
    role, env = function.role, function.environment
    mapping = _mapping(platform, function.arn)
    flow = Flow("feature ingestion").add(function.runtime_checks(platform))
    # The event source mapping polls with the function's role (shard iterator, records, the stream's key).
    flow.add(kinesis_read(platform, role, mapping["EventSourceArn"], "event source mapping"))
    flow.add([Call(role, "kinesis:DescribeStreamSummary", mapping["EventSourceArn"], {}, "event source mapping")])
    flow.add(sqs_send(platform, role, mapping["DestinationConfig"]["OnFailure"]["Destination"], "on-failure queue"))
    flow.add(sqs_send(platform, role, _queue_arn(platform, env["DEAD_LETTER_QUEUE_URL"]), "invalid records"))
    groups = _groups(platform)
    for target in json.loads(env["FEATURE_TARGETS"]):
        flow.add(_put_record(platform, role, groups[target["feature_group_name"]], "stream record"))
    return flow


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ingestion_function_writes_every_stream_record_to_its_groups(platforms, ingestion, env):
    assert_authorized(platforms[env], ingestion_flow(platforms[env], ingestion[env]))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ingestion_flow_covers_every_boto3_call_of_its_code(platforms, ingestion, env):
    function = ingestion[env]
    checked = {c.action.lower() for c in ingestion_flow(platforms[env], function).checks if isinstance(c, Call)}
    wanted = {a.lower() for s, o in boto3_calls(function.code) for a in iam_actions(s, o)}
    assert wanted == {"sagemaker:putrecord", "sqs:sendmessage"}
    assert wanted <= checked


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_ingestion_reaches_feature_store_through_the_runtime_endpoint(platforms, ingestion, env):
    # GIVEN a function in isolated subnets (no route out) THEN the VPC has the Feature Store runtime
    # interface endpoint with private DNS in those subnets, open on 443 to the function's group
    platform, function = platforms[env], ingestion[env]
    stage = platform.stage
    endpoints = [p for p in (stage.properties(s, r) for s, _, r in stage.resources("AWS::EC2::VPCEndpoint"))
                 if p["ServiceName"].endswith(RUNTIME_SERVICE)]
    assert len(endpoints) == 1 and endpoints[0]["PrivateDnsEnabled"] is True
    vpc = function.properties["VpcConfig"]
    assert set(vpc["SubnetIds"]) <= set(endpoints[0]["SubnetIds"])
    groups = {f"{stage.ref(s, lid)}.GroupId": stage.properties(s, r)
              for s, lid, r in stage.resources("AWS::EC2::SecurityGroup")}
    (vpc_cidr,) = {stage.properties(s, r)["CidrBlock"] for s, _, r in stage.resources("AWS::EC2::VPC")}
    rules = [rule for g in endpoints[0]["SecurityGroupIds"] for rule in groups[g].get("SecurityGroupIngress", [])]
    assert any(r["IpProtocol"] == "tcp" and r["FromPort"] <= 443 <= r["ToPort"] and r.get("CidrIp") == vpc_cidr
               for r in rules), rules
    # No endpoint policy: the endpoint's default (full access) leaves the decision to IAM.
    assert "PolicyDocument" not in endpoints[0]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_backfill_jobs_put_records_on_their_group(platforms, env):
    platform = platforms[env]
    groups = _groups(platform)
    backfills = [p for p in _glue_jobs(platform) if "--feature_target" in p["DefaultArguments"]]
    assert len(backfills) == len(groups)
    for job in backfills:
        role, target = Principal.role(job["Role"]), json.loads(job["DefaultArguments"]["--feature_target"])
        flow = Flow(f"backfill {job['Name']}").add([assume(platform, "glue.amazonaws.com", role)])
        flow.add(s3_read(platform, role, job["DefaultArguments"]["--source_path"], "curated events"))
        flow.add(s3_read(platform, role, job["DefaultArguments"]["--ledger_path"], "ledger"))
        flow.add(_put_record(platform, role, groups[target["feature_group_name"]], "backfill"))
        assert_authorized(platform, flow)


def _glue_jobs(platform) -> list[dict]:
    stage = platform.stage
    return [stage.properties(s, r) for s, _, r in stage.resources("AWS::Glue::Job")]


def _offline(group: dict) -> tuple[str, str, str, str]:
    """(S3 URI, key, database, table) of a group's offline store."""
    offline = group["OfflineStoreConfig"]
    catalog = offline["DataCatalogConfig"]
    return (offline["S3StorageConfig"]["S3Uri"], offline["S3StorageConfig"]["KmsKeyId"], catalog["Database"],
            catalog["TableName"])


def _glue_table(platform, p, actions, database, table, why) -> list:
    base = f"arn:aws:glue:{platform.region}:{platform.account}"
    return [Call(p, f"glue:{a}", r, {}, why) for a in actions
            for r in (f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/{table}")]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_point_in_time_job_reads_every_offline_store_it_joins(platforms, env):
    platform = platforms[env]
    (job,) = [p for p in _glue_jobs(platform) if "--feature_groups" in p["DefaultArguments"]]
    role = Principal.role(job["Role"])
    by_table = {f"glue_catalog.{_offline(g)[2]}.{_offline(g)[3]}": g for g in _groups(platform).values()
                if "OfflineStoreConfig" in g}
    entries = json.loads(job["DefaultArguments"]["--feature_groups"])
    assert entries and {e["table"] for e in entries} <= set(by_table)
    flow = Flow(f"point-in-time {job['Name']}").add([assume(platform, "glue.amazonaws.com", role)])
    for entry in entries:
        uri, key, database, table = _offline(by_table[entry["table"]])
        # Iceberg reads metadata and data files with the role's own credentials (S3FileIO), and
        # the table through the Glue catalog, which Lake Formation governs.
        flow.add(s3_read(platform, role, f"{uri}/", "offline store files"))
        flow.add([Call(role, "kms:Decrypt", key, {"kms:ViaService": f"s3.{platform.region}.amazonaws.com"},
                       "offline store key")])
        flow.add(_glue_table(platform, role, ("GetDatabase", "GetTable"), database, table, "Iceberg catalog"))
        flow.add([LakeFormationPermission(role, "DESCRIBE", database),
                  LakeFormationPermission(role, "DESCRIBE", database, table),
                  LakeFormationPermission(role, "SELECT", database, table),
                  Call(role, "lakeformation:GetDataAccess", "*", {}, "credential vending")])
    assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_offline_store_role_writes_its_iceberg_table(platforms, env):
    platform = platforms[env]
    for name, group in _groups(platform).items():
        if "OfflineStoreConfig" not in group:
            continue
        role = Principal.role(group["RoleArn"])
        uri, key, database, table = _offline(group)
        bucket = uri.removeprefix("s3://").split("/", 1)[0]
        flow = Flow(f"offline store of {name}").add([assume(platform, "sagemaker.amazonaws.com", role)])
        # Feature Store writes the Parquet data and Iceberg metadata objects with the bucket owner's ACL
        # (the calls of AWS's AmazonSageMakerFeatureStoreAccess), SSE-KMS with the offline store's key.
        objects = f"arn:aws:s3:::{bucket}/{uri.split('/', 3)[3]}/{platform.account}/sagemaker/{platform.region}/x"
        flow.add(Call(role, a, objects, {}, "Iceberg data and metadata files")
                 for a in ("s3:PutObject", "s3:PutObjectAcl", "s3:GetObject"))
        flow.add(Call(role, a, key, {"kms:ViaService": f"s3.{platform.region}.amazonaws.com"}, "offline store key")
                 for a in ("kms:GenerateDataKey", "kms:Decrypt"))
        flow.add([Call(role, "s3:GetBucketAcl", f"arn:aws:s3:::{bucket}", {}, "Feature Store checks the bucket")])
        flow.add(_glue_table(platform, role, ("GetDatabase", "GetTable", "CreateTable", "UpdateTable"), database,
                             table, "the offline store's Glue table"))
        flow.add([LakeFormationPermission(role, "CREATE_TABLE", database), DataLocation(role, f"arn:aws:s3:::{bucket}")])
        assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_endpoints_model_role_reads_the_online_stores(platforms, env):
    platform = platforms[env]
    role = platform.role_named(Naming.of(load_config(env)).role_name(RolePurpose.SAGEMAKER_MODEL))
    online = [g for g in _groups(platform).values() if g["OnlineStoreConfig"].get("EnableOnlineStore")]
    assert online
    flow = Flow(f"{env}: inference enrichment")
    for group in online:
        arn = _group_arn(platform, group["FeatureGroupName"])
        flow.add(Call(role, f"sagemaker:{a}", arn, {}, "online lookup") for a in ("GetRecord", "BatchGetRecord"))
        flow.add([Call(role, "kms:Decrypt", _online_key(group), {}, "online store key")])
    assert_authorized(platform, flow)
    # AND only reads: the model role cannot write features
    assert not platform.authorize(Request(role, "sagemaker:PutRecord", _group_arn(platform, online[0]["FeatureGroupName"])))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cloudformation_may_create_the_groups_with_the_lake_key_and_nobody_else_through_it(platforms, env):
    # GIVEN the bootstrap's execution role (AdministratorAccess) WHEN it calls CreateFeatureGroup with
    # the lake key on the online store THEN the key policy admits each KMS call SageMaker documents;
    # an administrator role of the account that is not named cannot use the key's data keys
    platform = platforms[env]
    key = _online_key(next(iter(_groups(platform).values())))
    policy = platform.key_policies[key]
    exec_role = Principal.role(f"arn:aws:iam::{platform.account}:role/cdk-hnb659fds-cfn-exec-role-"
                               f"{platform.account}-{platform.region}")
    other = Principal.role(f"arn:aws:iam::{platform.account}:role/some-administrator")
    def decide(principal, action):
        return evaluate(Request(principal, action, key), identity=[ADMINISTRATOR], resource_policy=policy,
                        resource_account=platform.account, key_policy=True)
    for action in ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt",
                   "kms:RetireGrant"):
        assert decide(exec_role, action).allowed, action
    # Administering the key (grants included) stays with the account; using its data keys does not.
    for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"):
        assert not decide(other, action).allowed, action
