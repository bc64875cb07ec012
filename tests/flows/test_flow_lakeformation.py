"""The Lake Formation model on its own: LF-tag expressions (AND across keys, OR across values; tables
inherit their database's tags), named resources, and data-location permissions."""
from __future__ import annotations

from flowcheck.lakeformation import Grant, LakeFormation

ROLE = "arn:aws:iam::111122223333:role/etl"


def lake(*grants: Grant) -> LakeFormation:
    return LakeFormation(locations={"arn:aws:s3:::features"},
                         database_tags={"features": {"zone": {"features"}, "sensitivity": {"internal"}},
                                        "raw": {"zone": {"raw"}, "sensitivity": {"confidential"}}},
                         grants=list(grants))


def tag_grant(permissions, resource_type, **expression):
    return Grant(ROLE, frozenset(permissions), {"LFTagPolicy": {
        "ResourceType": resource_type, "Expression": [{"TagKey": k, "TagValues": v} for k, v in expression.items()]}})


def test_tag_expression_matches_any_listed_value_of_every_key():
    lf = lake(tag_grant(["SELECT"], "TABLE", zone=["curated", "features"], sensitivity=["internal"]))
    assert lf.allows(ROLE, "SELECT", "features", "train")           # table inherits the database's tags
    assert not lf.allows(ROLE, "SELECT", "raw", "events")           # zone raw not listed
    assert not lf.allows(ROLE, "SELECT", "features")                # a TABLE grant is not a DATABASE grant
    assert not lf.allows(ROLE, "INSERT", "features", "train")       # another permission
    assert not lf.allows("arn:aws:iam::111122223333:role/other", "SELECT", "features", "train")


def test_named_database_and_table_wildcard_grants():
    lf = lake(Grant(ROLE, frozenset(["CREATE_TABLE"]), {"Database": {"Name": "features"}}),
              Grant(ROLE, frozenset(["ALL"]), {"Table": {"DatabaseName": "raw", "TableWildcard": {}}}))
    assert lf.allows(ROLE, "CREATE_TABLE", "features")
    assert lf.allows(ROLE, "ALTER", "raw", "anything")
    assert not lf.allows(ROLE, "CREATE_TABLE", "raw")


def test_data_location_access_is_needed_only_inside_a_registered_location():
    without = lake()
    granted = lake(Grant(ROLE, frozenset(["DATA_LOCATION_ACCESS"]),
                         {"DataLocation": {"ResourceArn": "arn:aws:s3:::features/datasets"}}))
    assert without.allows_location(ROLE, "arn:aws:s3:::scratch/tmp")           # not registered
    assert not without.allows_location(ROLE, "arn:aws:s3:::features/datasets/")
    assert granted.allows_location(ROLE, "arn:aws:s3:::features/datasets/train")
    assert not granted.allows_location(ROLE, "arn:aws:s3:::features/other")
