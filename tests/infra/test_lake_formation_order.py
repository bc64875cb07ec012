"""GIVEN the stacks that create Lake Formation permissions WHEN CloudFormation deploys them THEN the
permissions of a stack are created one after another, after the settings and LF-tags they use; Firehose
waits for its DESCRIBE grants; the two stacks with grants never deploy in parallel; and the crawler may
create tables in its registered location (issue 9 defects 5 and 10)."""
from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

PERMISSIONS = "AWS::LakeFormation::PrincipalPermissions"


def _permissions(template) -> dict[str, dict]:
    return template.find_resources(PERMISSIONS)


@pytest.mark.parametrize("stack", ["catalog", "ingestion", "processing"])
def test_permissions_of_a_stack_form_one_chain(prod_stage, template_of, stack):
    found = _permissions(template_of(getattr(prod_stage, stack)))
    assert found
    waits_for = {k: [d for d in v.get("DependsOn", []) if d in found] for k, v in found.items()}
    firsts = [k for k, deps in waits_for.items() if not deps]
    assert len(firsts) == 1, f"{len(firsts)} permissions start in parallel: {firsts}"
    successors = [d for deps in waits_for.values() for d in deps]
    assert len(successors) == len(set(successors)) == len(found) - 1  # each one is waited for at most once


def test_catalog_permissions_wait_for_settings_and_tags(prod_stage, template_of):
    template = template_of(prod_stage.catalog).to_json()["Resources"]
    settings = {k for k, v in template.items() if v["Type"] == "AWS::LakeFormation::DataLakeSettings"}
    tags = {k for k, v in template.items() if v["Type"] == "AWS::LakeFormation::Tag"}
    for name, permission in template.items():
        if permission["Type"] == PERMISSIONS:
            assert settings | tags <= set(permission["DependsOn"]), name


def test_other_stacks_with_grants_deploy_after_the_catalog_and_not_in_parallel(prod_stage):
    assert prod_stage.catalog in prod_stage.ingestion.dependencies
    assert prod_stage.catalog in prod_stage.processing.dependencies
    assert prod_stage.ingestion in prod_stage.processing.dependencies


def test_firehose_waits_for_its_describe_grants(prod_stage, template_of):
    template = template_of(prod_stage.ingestion)
    permissions = set(_permissions(template))
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    assert permissions and permissions <= set(stream["DependsOn"])


def test_crawler_has_data_location_access_on_the_features_bucket(prod_stage, template_of):
    template_of(prod_stage.processing).has_resource_properties(PERMISSIONS, {
        "Principal": {"DataLakePrincipalIdentifier": {"Fn::GetAtt": [Match.string_like_regexp("CrawlerRole"), "Arn"]}},
        "Resource": {"DataLocation": {"CatalogId": "333333333333",
                                      "ResourceArn": "arn:aws:s3:::mlp-prod-features-333333333333-eu-west-1"}},
        "Permissions": ["DATA_LOCATION_ACCESS"]})
