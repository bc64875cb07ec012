"""Security, Network and DataLake stacks: the security-relevant properties, read from the templates."""
from __future__ import annotations

from aws_cdk.assertions import Match

from ml_platform.config import load_config
from ml_platform.constructs.foundation.network import INTERFACE_ENDPOINTS


def _resources(template, cfn_type):
    return template.find_resources(cfn_type)


# --- keys ------------------------------------------------------------------------------------

def test_one_rotating_key_per_domain_with_alias(dev_stage, template_of):
    t = template_of(dev_stage.security)
    keys = _resources(t, "AWS::KMS::Key")
    assert len(keys) == 4
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())
    aliases = {a["Properties"]["AliasName"] for a in _resources(t, "AWS::KMS::Alias").values()}
    assert aliases == {f"alias/mlp-dev/{d}" for d in ("lake", "models", "logs", "streaming")}


def test_key_policy_lets_account_administer_but_not_use(dev_stage, template_of):
    for key in _resources(template_of(dev_stage.security), "AWS::KMS::Key").values():
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        admin = next(s for s in statements if s["Sid"] == "KeyAdministration")
        assert not any(a in admin["Action"] for a in ("kms:Decrypt", "kms:Encrypt", "kms:*"))
        for statement in statements:
            if statement["Sid"].startswith("UseBy"):
                assert "aws:PrincipalArn" in statement["Condition"]["ArnEquals"]


def test_logs_key_admits_cloudwatch_logs_of_this_account_only(dev_stage, template_of):
    keys = _resources(template_of(dev_stage.security), "AWS::KMS::Key")
    statements = [s for k in keys.values() for s in k["Properties"]["KeyPolicy"]["Statement"]
                  if s["Sid"] == "CloudWatchLogsEncryption"]
    assert len(statements) == 1
    assert statements[0]["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert statements[0]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == \
        "arn:aws:logs:eu-west-1:111111111111:log-group:*"


def test_prod_keys_retained_dev_keys_destroyed(dev_stage, prod_stage, template_of):
    for stage, policy in ((dev_stage, "Delete"), (prod_stage, "Retain")):
        keys = _resources(template_of(stage.security), "AWS::KMS::Key")
        assert {k["DeletionPolicy"] for k in keys.values()} == {policy}


# --- network ---------------------------------------------------------------------------------

def test_vpc_has_only_isolated_subnets_and_no_internet(dev_stage, template_of):
    t = template_of(dev_stage.network)
    t.resource_count_is("AWS::EC2::InternetGateway", 0)
    t.resource_count_is("AWS::EC2::NatGateway", 0)
    subnets = _resources(t, "AWS::EC2::Subnet").values()
    assert len(subnets) == 2
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    t.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.10.0.0/16"})


def test_prod_spans_three_configured_zones(prod_stage, template_of):
    subnets = _resources(template_of(prod_stage.network), "AWS::EC2::Subnet").values()
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets) == \
        ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def test_every_endpoint_the_workloads_need(dev_stage, template_of):
    t = template_of(dev_stage.network)
    endpoints = _resources(t, "AWS::EC2::VPCEndpoint").values()
    gateways = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Gateway"]
    interfaces = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Interface"]
    assert len(gateways) == 2
    assert len(interfaces) == len(INTERFACE_ENDPOINTS)
    names = " ".join(str(e["Properties"]["ServiceName"]) for e in interfaces)
    for service in ("sagemaker.api", "sagemaker.runtime", "sagemaker.featurestore-runtime", "sts", "logs",
                    "monitoring", "ecr.api", "ecr.dkr", "kms", "kinesis-streams", "glue", "events", "lambda",
                    "xray", "application-autoscaling"):
        assert f".{service}" in names, service
    assert all(e["Properties"]["PrivateDnsEnabled"] is True for e in interfaces)


def test_endpoints_accept_only_https_from_the_vpc(dev_stage, template_of):
    t = template_of(dev_stage.network)
    t.has_resource_properties("AWS::EC2::SecurityGroup", {
        "GroupDescription": Match.string_like_regexp("interface endpoints"),
        "SecurityGroupIngress": [{"CidrIp": "10.10.0.0/16", "FromPort": 443, "ToPort": 443,
                                  "IpProtocol": "tcp", "Description": "HTTPS from the VPC"}],
    })


def test_flow_logs_all_traffic_to_encrypted_log_group(dev_stage, template_of):
    t = template_of(dev_stage.network)
    t.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL",
                                                    "LogDestinationType": "cloud-watch-logs"})
    groups = _resources(t, "AWS::Logs::LogGroup").values()
    assert len(groups) == 1
    group = next(iter(groups))["Properties"]
    assert group["RetentionInDays"] == load_config("dev").network.flow_log_retention_days
    assert "KmsKeyId" in group


def test_default_security_group_is_emptied(dev_stage, template_of):
    template_of(dev_stage.network).resource_count_is("Custom::VpcRestrictDefaultSG", 1)


# --- data lake -------------------------------------------------------------------------------

def _buckets(stage, template_of):
    return {b["Properties"]["BucketName"]: b for b in _resources(template_of(stage.data_lake), "AWS::S3::Bucket").values()}


def test_zone_buckets_and_access_log_bucket(dev_stage, template_of):
    names = set(_buckets(dev_stage, template_of))
    assert names == {f"mlp-dev-{z}-111111111111-eu-west-1" for z in
                     ("raw", "curated", "features", "artifacts", "access-logs")}


def test_zone_buckets_are_kms_encrypted_private_versioned_and_logged(dev_stage, template_of):
    for name, bucket in _buckets(dev_stage, template_of).items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        if "access-logs" in name:
            assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
            continue
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert "KMSMasterKeyID" in sse["ServerSideEncryptionByDefault"]
        assert sse["BucketKeyEnabled"] is True
        assert props["LoggingConfiguration"]["LogFilePrefix"] == f"{name}/"


def test_every_bucket_denies_plain_http(dev_stage, template_of):
    policies = _resources(template_of(dev_stage.data_lake), "AWS::S3::BucketPolicy").values()
    assert len(policies) == 5
    for policy in policies:
        deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false" for s in deny)


def test_lifecycle_days_come_from_config(dev_stage, template_of):
    lake = load_config("dev").data_lake
    rules = _buckets(dev_stage, template_of)["mlp-dev-raw-111111111111-eu-west-1"]["Properties"]["LifecycleConfiguration"]["Rules"]
    rule = next(r for r in rules if r["Id"] == "Tiers")
    assert rule["ExpirationInDays"] == lake.raw.expiration_days
    transitions = {t["StorageClass"]: t["TransitionInDays"] for t in rule["Transitions"]}
    assert transitions == {"INTELLIGENT_TIERING": lake.raw.intelligent_tiering_days,
                           "GLACIER": lake.raw.glacier_days}


def test_prod_buckets_are_retained(prod_stage, template_of):
    assert {b["DeletionPolicy"] for b in _buckets(prod_stage, template_of).values()} == {"Retain"}
