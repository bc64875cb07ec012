"""FeatureStore stack: feature groups, ingestion mapping and compaction, read from the templates."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime" / "features"))
from features_testkit import TARGETS


@pytest.fixture(scope="module")
def features(dev_stage, template_of):
    return template_of(dev_stage.feature_store)


@pytest.fixture(scope="module")
def security(dev_stage, template_of):
    return template_of(dev_stage.security)


def _groups(template) -> dict[str, dict]:
    return {r["Properties"]["FeatureGroupName"]: r for r in template.find_resources("AWS::SageMaker::FeatureGroup").values()}


def test_groups_are_versioned_retained_and_typed_from_config(features):
    # GIVEN dev's two groups WHEN synthesized THEN names carry the version and both survive delete/replace
    groups = _groups(features)
    assert set(groups) == {"mlp-dev-transactions-v1", "mlp-dev-customer-profile-v1"}
    for resource in groups.values():
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"
    features.has_resource_properties("AWS::SageMaker::FeatureGroup", {
        "FeatureGroupName": "mlp-dev-customer-profile-v1", "RecordIdentifierFeatureName": "customer_id",
        "EventTimeFeatureName": "event_time",
        "FeatureDefinitions": [{"FeatureName": "customer_id", "FeatureType": "String"},
                               {"FeatureName": "event_time", "FeatureType": "String"},
                               {"FeatureName": "account_age_days", "FeatureType": "Integral"},
                               {"FeatureName": "num_prev_transactions", "FeatureType": "Integral"}]})


def test_both_stores_use_the_lake_key_online_standard_with_ttl_offline_iceberg(features):
    lake_key = Match.object_like({"Fn::ImportValue": Match.string_like_regexp("LakeKey")})
    features.has_resource_properties("AWS::SageMaker::FeatureGroup", {
        "FeatureGroupName": "mlp-dev-transactions-v1",
        "OnlineStoreConfig": {"EnableOnlineStore": True, "StorageType": "Standard",
                              "SecurityConfig": {"KmsKeyId": lake_key}, "TtlDuration": {"Unit": "Days", "Value": 7}},
        "OfflineStoreConfig": {
            "TableFormat": "Iceberg", "DisableGlueTableCreation": False,
            "S3StorageConfig": {"KmsKeyId": lake_key,
                                "S3Uri": "s3://mlp-dev-features-111111111111-eu-west-1/feature-store/transactions"},
            "DataCatalogConfig": {"Catalog": "AwsDataCatalog", "Database": "mlp_dev_features",
                                  "TableName": "mlp_dev_transactions_v1"}},
        "RoleArn": Match.any_value()})


def test_offline_store_role_is_scoped_to_its_group(features):
    # THEN the role S3 access is the group's prefix only (never the *sagemaker* managed policy)
    features.has_resource_properties("AWS::IAM::Role", {
        "RoleName": "mlp-dev-feature-store-transactions",
        "AssumeRolePolicyDocument": Match.object_like({"Statement": [Match.object_like(
            {"Principal": {"Service": "sagemaker.amazonaws.com"}})]}),
        "ManagedPolicyArns": Match.not_(Match.array_with([Match.string_like_regexp("AmazonSageMakerFeatureStoreAccess")]))})
    features.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"],
                           "Resource": "arn:aws:s3:::mlp-dev-features-111111111111-eu-west-1/feature-store/transactions/*"})])}})
    features.has_resource_properties("AWS::LakeFormation::PrincipalPermissions", {
        "Permissions": ["DATA_LOCATION_ACCESS"],
        "Resource": {"DataLocation": {"ResourceArn": "arn:aws:s3:::mlp-dev-features-111111111111-eu-west-1",
                                      "CatalogId": "111111111111"}}})


def test_ingestion_function_gets_the_mapping_the_runtime_tests_use(features):
    # THEN FEATURE_TARGETS is exactly what tests/runtime/features drives the handler with
    functions = [f for f in features.find_resources("AWS::Lambda::Function").values()
                 if "FEATURE_TARGETS" in f["Properties"].get("Environment", {}).get("Variables", {})]
    assert len(functions) == 1
    variables = functions[0]["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["FEATURE_TARGETS"]) == TARGETS
    assert functions[0]["Properties"]["VpcConfig"]["SubnetIds"]


def test_event_source_mapping_reports_item_failures_bounded_with_kms_on_failure_queue(features, dev_stage, reference):
    features.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"], "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 10, "MaximumRecordAgeInSeconds": 3600, "ParallelizationFactor": 2,
        "BatchSize": 100, "StartingPosition": "LATEST",
        "DestinationConfig": {"OnFailure": {"Destination": Match.object_like({"Fn::GetAtt": Match.any_value()})}}})
    queues = features.find_resources("AWS::SQS::Queue")
    streaming_key = reference(dev_stage.feature_store, dev_stage.security.keys.streaming)
    assert queues and all(q["Properties"]["KmsMasterKeyId"] == streaming_key for q in queues.values())


def test_ingestion_role_may_put_records_to_its_groups_only(features):
    features.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": "sagemaker:PutRecord", "Resource": Match.array_with([
            "arn:aws:sagemaker:eu-west-1:111111111111:feature-group/mlp-dev-transactions-v1"])})])}})


def test_compaction_schedules_optimize_then_vacuum_in_the_features_workgroup(features):
    schedules = [s["Properties"] for s in features.find_resources("AWS::Scheduler::Schedule").values()]
    queries = sorted(json.loads(s["Target"]["Input"])["QueryString"] for s in schedules)
    assert queries == ['OPTIMIZE "mlp_dev_features"."mlp_dev_customer_profile_v1" REWRITE DATA USING BIN_PACK',
                       'OPTIMIZE "mlp_dev_features"."mlp_dev_transactions_v1" REWRITE DATA USING BIN_PACK',
                       'VACUUM "mlp_dev_features"."mlp_dev_customer_profile_v1"',
                       'VACUUM "mlp_dev_features"."mlp_dev_transactions_v1"']
    assert {s["Target"]["Arn"] for s in schedules} == {"arn:aws:scheduler:::aws-sdk:athena:startQueryExecution"}
    assert {json.loads(s["Target"]["Input"])["WorkGroup"] for s in schedules} == {"mlp-dev-features"}
    features.has_resource_properties("AWS::Athena::WorkGroup", {"Name": "mlp-dev-features"})


def test_lake_key_admits_cloudformation_for_create_feature_group_and_the_feature_roles(security):
    security.has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([
        Match.object_like({"Sid": "UseByDomainRoles", "Condition": {"ArnEquals": {"aws:PrincipalArn": Match.array_with([
            "arn:aws:iam::111111111111:role/mlp-dev-feature-ingestion",
            "arn:aws:iam::111111111111:role/mlp-dev-feature-store-transactions"])}}}),
        Match.object_like({"Sid": "FeatureStoreCreateFeatureGroup", "Action": Match.array_with(
            ["kms:CreateGrant", "kms:GenerateDataKey", "kms:RetireGrant"]),
            "Condition": {"ArnEquals": {"aws:PrincipalArn":
                "arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-eu-west-1"}}})])}})
