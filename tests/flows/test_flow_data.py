"""Data flows: Firehose delivery (stream -> transform -> raw zone, schema from the catalog), the
transform function, the Glue ETL jobs, the features crawler (with Lake Formation), the analyst's
Athena query (with Lake Formation's credential vending) and a producer writing to the stream."""
from __future__ import annotations

import pytest
from flowcheck.calls import (
    Call,
    DataLocation,
    LakeFormationPermission,
    assume,
    kinesis_read,
    kinesis_write,
    logs_write,
    s3_read,
    s3_write,
    split_s3_uri,
    vpc_network_interfaces,
)
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import boto3_calls, functions
from flowcheck.policy import Principal, Request

from ml_platform.config import ENVIRONMENTS

GLUE_READ = ("GetDatabase", "GetTable", "GetTableVersions", "GetPartitions")
GLUE_WRITE = ("GetDatabase", "GetTable", "CreateTable", "UpdateTable", "BatchCreatePartition", "GetPartitions")


def _one(platform, type_name, stack_suffix: str = ""):
    found = [(s, lid, platform.stage.properties(s, r)) for s, lid, r in platform.stage.resources(type_name)
             if s.name.endswith(stack_suffix)]
    assert len(found) == 1, f"expected one {type_name}, found {len(found)}"
    return found[0]


def _glue(platform, p, actions, database, table, why):
    base = f"arn:aws:glue:{platform.region}:{platform.account}"
    resources = [f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/{table}"]
    return [Call(p, f"glue:{a}", r, {}, why) for a in actions for r in resources]


def _literal_prefix(prefix):
    return prefix.split("!{", 1)[0]


def firehose_flow(platform) -> Flow:
    _, _, props = _one(platform, "AWS::KinesisFirehose::DeliveryStream")
    dest = props["ExtendedS3DestinationConfiguration"]
    role, bucket = Principal.role(dest["RoleARN"]), dest["BucketARN"].removeprefix("arn:aws:s3:::")
    key = dest["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"]
    flow = Flow("Firehose delivery").add([assume(platform, "firehose.amazonaws.com", role)])
    flow.add(kinesis_read(platform, role, props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"], "source"))
    for processor in dest["ProcessingConfiguration"]["Processors"]:
        function = next(p["ParameterValue"] for p in processor["Parameters"] if p["ParameterName"] == "LambdaArn")
        flow.add(Call(role, f"lambda:{a}", function, {}, "transform") for a in ("InvokeFunction",))
    schema = dest["DataFormatConversionConfiguration"]["SchemaConfiguration"]
    database, table = schema["DatabaseName"], schema["TableName"]
    flow.add(_glue(platform, role, ("GetDatabase", "GetTable", "GetTableVersion", "GetTableVersions"), database, table,
                   "record format conversion schema"))
    flow.add([LakeFormationPermission(role, "DESCRIBE", database), LakeFormationPermission(role, "DESCRIBE", database,
                                                                                           table)])
    flow.add([Call(role, a, f"arn:aws:s3:::{bucket}", {}, "destination") for a in ("s3:GetBucketLocation",
                                                                                     "s3:ListBucket")])
    for prefix in (dest["Prefix"], dest["ErrorOutputPrefix"]):
        flow.add(s3_write(platform, role, f"s3://{bucket}/{_literal_prefix(prefix)}", "delivery", key))
    logging = dest["CloudWatchLoggingOptions"]
    flow.add(logs_write(platform, role, logging["LogGroupName"], "delivery errors"))
    return flow


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_firehose_delivers_the_stream_to_the_raw_zone(platforms, env):
    assert_authorized(platforms[env], firehose_flow(platforms[env]))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_firehose_reads_its_transform_configuration(platforms, env):
    platform = platforms[env]
    _, _, props = _one(platform, "AWS::KinesisFirehose::DeliveryStream")
    dest = props["ExtendedS3DestinationConfiguration"]
    function = next(p["ParameterValue"] for p in dest["ProcessingConfiguration"]["Processors"][0]["Parameters"]
                    if p["ParameterName"] == "LambdaArn")
    assert_authorized(platform, Flow("Firehose transform configuration", [
        Call(Principal.role(dest["RoleARN"]), "lambda:GetFunctionConfiguration", function, {}, "transform")]))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_transform_function_runs(platforms, cdk_out, env):
    platform = platforms[env]
    transform = functions(platform, cdk_out / f"assembly-{env.capitalize()}")["firehose_transform"]
    assert boto3_calls(transform.code) == set(), "the transform calls AWS now: add those calls to this flow"
    assert_authorized(platform, Flow(f"{env}: transform", transform.runtime_checks(platform)))


def _connection_placement(platform, name):
    """The subnet and security groups of the Glue connection `name`, where Glue creates the job's ENIs."""
    stage = platform.stage
    connection = next(props["ConnectionInput"] for s, _, r in stage.resources("AWS::Glue::Connection")
                      if (props := stage.properties(s, r))["ConnectionInput"]["Name"] == name)
    requirements = connection["PhysicalConnectionRequirements"]
    return {"subnets": [requirements["SubnetId"]], "security_groups": requirements["SecurityGroupIdList"]}


def glue_job_flow(platform, props) -> Flow:
    role, args = Principal.role(props["Role"]), props["DefaultArguments"]
    stage = platform.stage
    security = next(stage.properties(s, r) for s, _, r in stage.resources("AWS::Glue::SecurityConfiguration")
                    if stage.properties(s, r)["Name"] == props["SecurityConfiguration"])
    encryption = security["EncryptionConfiguration"]
    s3_key = encryption["S3Encryptions"][0]["KmsKeyArn"]
    flow = Flow(f"Glue job {props['Name']}").add([assume(platform, "glue.amazonaws.com", role)])
    for name in ("--extra-py-files", "--schema_path"):
        if name in args:
            flow.add(s3_read(platform, role, args[name], f"job argument {name}"))
    flow.add(s3_read(platform, role, props["Command"]["ScriptLocation"], "job script"))
    # The ETL reads --source_path; the point-in-time training-set job reads its labels from --labels_path.
    flow.add(s3_read(platform, role, args.get("--source_path") or args["--labels_path"], "source"))
    for name in ("--target_path", "--rejected_path", "--csv_output_path", "--stats_path", "--TempDir",
                 "--ledger_path"):
        if name in args:
            # The security configuration's SSE-KMS key encrypts every object the job writes.
            flow.add(s3_write(platform, role, args[name], f"output {name}", s3_key))
    for name in ("--stats_path", "--TempDir", "--ledger_path"):
        if name in args:
            flow.add(s3_read(platform, role, args[name], f"re-read {name}"))
    bookmark_key = encryption["JobBookmarksEncryption"]["KmsKeyArn"]
    flow.add(Call(role, a, bookmark_key, {}, "bookmarks (CSE-KMS)") for a in ("kms:Encrypt", "kms:Decrypt",
                                                                                "kms:GenerateDataKey"))
    group = f"/aws-glue/jobs/{props['SecurityConfiguration']}-role/{role.arn.split('/')[-1]}/output"
    flow.add([Call(role, "logs:AssociateKmsKey", f"arn:aws:logs:{platform.region}:{platform.account}:log-group:{group}",
                   {}, "encrypted job logs")])
    flow.add(logs_write(platform, role, group, "job logs"))
    for connection in props.get("Connections", {}).get("Connections", []):
        flow.add([Call(role, "glue:GetConnection",
                       f"arn:aws:glue:{platform.region}:{platform.account}:connection/{connection}", {}, "connection")])
        flow.add(vpc_network_interfaces(platform, role, **_connection_placement(platform, connection),
                                        why="job ENIs"))
        flow.add([Call(role, f"ec2:{a}", "*", {}, "connection") for a in ("DescribeVpcEndpoints", "DescribeRouteTables",
                                                                          "DescribeSecurityGroups")],)
        flow.add([Call(role, "ec2:CreateTags", f"arn:aws:ec2:{platform.region}:{platform.account}:network-interface/x",
                       {"aws:TagKeys": ["aws-glue-service-resource"]}, "ENI tag")])
    flow.add([Call(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Glue"}, "job metrics")])
    return flow


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_glue_etl_jobs_run(platforms, env):
    platform = platforms[env]
    jobs = [platform.stage.properties(s, r) for s, _, r in platform.stage.resources("AWS::Glue::Job")]
    assert len(jobs) >= 2
    for props in jobs:
        assert_authorized(platform, glue_job_flow(platform, props))


def crawler_flow(platform, *, with_location: bool) -> Flow:
    _, _, props = _one(platform, "AWS::Glue::Crawler")
    role, database = Principal.role(props["Role"]), props["DatabaseName"]
    flow = Flow(f"crawler {props['Name']}").add([assume(platform, "glue.amazonaws.com", role)])
    for target in props["Targets"]["S3Targets"]:
        bucket, prefix = split_s3_uri(target["Path"])
        flow.add(s3_read(platform, role, target["Path"], "crawl"))
        flow.add(_glue(platform, role, GLUE_WRITE, database, "datasets", "catalog tables"))
        flow.add([LakeFormationPermission(role, "CREATE_TABLE", database),
                  LakeFormationPermission(role, "ALTER", database, "datasets")])
        if with_location:
            flow.add([DataLocation(role, f"arn:aws:s3:::{bucket}/{prefix}")])
    group = f"/aws-glue/crawlers-role/{role.arn.split('/')[-1]}-{props['CrawlerSecurityConfiguration']}"
    flow.add([Call(role, "logs:AssociateKmsKey", f"arn:aws:logs:{platform.region}:{platform.account}:log-group:{group}",
                   {}, "encrypted crawler logs")])
    flow.add(logs_write(platform, role, group, "crawler logs"))
    return flow


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_features_crawler_catalogs_the_datasets(platforms, env):
    assert_authorized(platforms[env], crawler_flow(platforms[env], with_location=True))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_features_crawler_catalogs_the_datasets_apart_from_the_location_grant(platforms, env):
    assert_authorized(platforms[env], crawler_flow(platforms[env], with_location=False))


def _analyst(platform, workgroup_arn):
    """The roles whose policies let them start queries in the workgroup."""
    found = [Principal.role(arn) for arn in platform.roles
             if platform.authorize(Request(Principal.role(arn), "athena:StartQueryExecution", workgroup_arn)).allowed]
    assert found, "no role may query the Athena workgroup"
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_analyst_queries_the_curated_zone_with_athena(platforms, env):
    platform = platforms[env]
    stack, logical_id, workgroup = _one(platform, "AWS::Athena::WorkGroup", "-Catalog")
    workgroup_arn = platform.stage.arn(stack, logical_id)
    results = workgroup["WorkGroupConfiguration"]["ResultConfiguration"]
    result_key = results["EncryptionConfiguration"]["KmsKey"]
    tables = [platform.stage.properties(s, r) for s, _, r in platform.stage.resources("AWS::Glue::Table")]
    curated = next(t for t in tables if t["DatabaseName"].endswith("_curated"))
    database, table = curated["DatabaseName"], curated["TableInput"]["Name"]
    location = curated["TableInput"]["StorageDescriptor"]["Location"]
    for analyst in _analyst(platform, workgroup_arn):
        flow = Flow(f"{env}: {analyst} queries {database}.{table}")
        flow.add(Call(analyst, f"athena:{a}", workgroup_arn, {}, "query")
                 for a in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults"))
        flow.add(_glue(platform, analyst, GLUE_READ, database, table, "query planning"))
        flow.add([LakeFormationPermission(analyst, "DESCRIBE", database),
                  LakeFormationPermission(analyst, "SELECT", database, table),
                  Call(analyst, "lakeformation:GetDataAccess", "*", {}, "credential vending")])
        flow.add(s3_write(platform, analyst, results["OutputLocation"], "query results", result_key))
        flow.add(s3_read(platform, analyst, results["OutputLocation"], "read results"))
        flow.add([Call(analyst, "s3:GetBucketLocation", "arn:aws:s3:::" + split_s3_uri(results["OutputLocation"])[0])])
        # Lake Formation reads the data with the role registered for the location.
        bucket = split_s3_uri(location)[0]
        data_role = next(Principal.role(platform.stage.properties(s, r)["RoleArn"]) for s, _, r in
                         platform.stage.resources("AWS::LakeFormation::Resource")
                         if platform.stage.properties(s, r)["ResourceArn"] == f"arn:aws:s3:::{bucket}")
        flow.add([assume(platform, "lakeformation.amazonaws.com", data_role)])
        flow.add(s3_read(platform, data_role, location, "data read for the query"))
        assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_producer_writes_to_the_stream(platforms, env):
    # The producers are the roles the templates let put records on the stream; each must be able to
    # encrypt with the streaming key too.
    platform = platforms[env]
    stack, logical_id, _ = _one(platform, "AWS::Kinesis::Stream")
    stream = platform.stage.arn(stack, logical_id)
    producers = [Principal.role(a) for a in platform.roles
                 if platform.authorize(Request(Principal.role(a), "kinesis:PutRecords", stream)).allowed]
    assert producers, "no role of the templates may put records on the stream"
    for producer in producers:
        assert_authorized(platform, Flow(f"{env}: producer {producer}", kinesis_write(platform, producer, stream)))
