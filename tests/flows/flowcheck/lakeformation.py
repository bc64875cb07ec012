"""Lake Formation permissions from the templates: LF-tags on databases (tables inherit them),
grants by LF-tag expression, by named database/table and on data locations, registered locations.

What Lake Formation checks (Lake Formation Developer Guide, "Lake Formation permissions reference"):
Glue catalog calls need a Lake Formation permission on the database or table besides IAM
(`DESCRIBE` to read metadata, `CREATE_TABLE` on the database, `ALTER` to update a table);
reading data through Lake Formation needs `SELECT`; creating or altering a table whose location is
in a registered location needs `DATA_LOCATION_ACCESS` on that location.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Grant:
    principal: str
    permissions: frozenset[str]
    resource: Mapping[str, Any]


@dataclass
class LakeFormation:
    admins: set[str] = field(default_factory=set)
    locations: set[str] = field(default_factory=set)           # registered s3 ARNs
    database_tags: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    database_locations: dict[str, str] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)

    def tags_of(self, database: str) -> dict[str, set[str]]:
        return self.database_tags.get(database, {})

    def _resource_matches(self, resource: Mapping[str, Any], kind: str, database: str, table: str | None) -> bool:
        if "LFTagPolicy" in resource:
            policy = resource["LFTagPolicy"]
            if policy["ResourceType"] != kind:
                return False
            tags = self.tags_of(database)
            return all(tags.get(e["TagKey"], set()) & set(e["TagValues"]) for e in policy["Expression"])
        if kind == "DATABASE" and "Database" in resource:
            return resource["Database"].get("Name") == database
        if kind == "TABLE" and "Table" in resource:
            spec = resource["Table"]
            return spec.get("DatabaseName") == database and ("TableWildcard" in spec or spec.get("Name") == table)
        return False

    def allows(self, principal: str, permission: str, database: str, table: str | None = None) -> bool:
        """Does any grant give `principal` `permission` on the database (table=None) or the table?"""
        kind = "DATABASE" if table is None else "TABLE"
        return any(g.principal == principal and (permission in g.permissions or "ALL" in g.permissions)
                   and self._resource_matches(g.resource, kind, database, table) for g in self.grants)

    def registered_location_of(self, s3_arn: str) -> str | None:
        return next((loc for loc in self.locations if s3_arn == loc or s3_arn.startswith(loc.rstrip("/") + "/")),
                    None)

    def allows_location(self, principal: str, s3_arn: str) -> bool:
        """DATA_LOCATION_ACCESS on the registered location holding `s3_arn` (not needed outside one)."""
        if self.registered_location_of(s3_arn) is None:
            return True
        for grant in self.grants:
            location = grant.resource.get("DataLocation", {}).get("ResourceArn", "")
            if (grant.principal == principal and "DATA_LOCATION_ACCESS" in grant.permissions and location
                    and (s3_arn == location or s3_arn.startswith(location.rstrip("/") + "/"))):
                return True
        return False


def _tag_values(tags: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    return {t["TagKey"]: set(t["TagValues"]) for t in tags}


def lake_formation_of(stage: Any) -> LakeFormation:
    """The stage's Lake Formation settings, registered locations, LF-tags and grants."""
    lf = LakeFormation()
    for stack, _, resource in stage.resources("AWS::LakeFormation::DataLakeSettings"):
        lf.admins |= {a["DataLakePrincipalIdentifier"] for a in stage.properties(stack, resource).get("Admins", [])}
    for stack, _, resource in stage.resources("AWS::LakeFormation::Resource"):
        lf.locations.add(stage.properties(stack, resource)["ResourceArn"])
    for stack, _, resource in stage.resources("AWS::Glue::Database"):
        db = stage.properties(stack, resource)["DatabaseInput"]
        lf.database_locations[db["Name"]] = db.get("LocationUri", "")
    for stack, _, resource in stage.resources("AWS::LakeFormation::TagAssociation"):
        props = stage.properties(stack, resource)
        database = props["Resource"].get("Database", {}).get("Name")
        if database:
            lf.database_tags.setdefault(database, {}).update(_tag_values(props["LFTags"]))
    for stack, _, resource in stage.resources("AWS::LakeFormation::PrincipalPermissions"):
        props = stage.properties(stack, resource)
        lf.grants.append(Grant(props["Principal"]["DataLakePrincipalIdentifier"], frozenset(props["Permissions"]),
                               props["Resource"]))
    for stack, _, resource in stage.resources("AWS::LakeFormation::Permissions"):
        props = stage.properties(stack, resource)
        lf.grants.append(Grant(props["DataLakePrincipal"]["DataLakePrincipalIdentifier"],
                               frozenset(props["Permissions"]), _legacy_resource(props["Resource"])))
    return lf


def _legacy_resource(resource: Mapping[str, Any]) -> dict[str, Any]:
    """AWS::LakeFormation::Permissions names resources slightly differently."""
    if "DataLocationResource" in resource:
        return {"DataLocation": {"ResourceArn": resource["DataLocationResource"]["S3Resource"]}}
    if "DatabaseResource" in resource:
        return {"Database": {"Name": resource["DatabaseResource"]["Name"]}}
    if "TableResource" in resource:
        table = resource["TableResource"]
        spec: dict[str, Any] = {"DatabaseName": table["DatabaseName"]}
        spec.update({"TableWildcard": {}} if "TableWildcard" in table else {"Name": table.get("Name")})
        return {"Table": spec}
    return {}
