"""The Glue Data Catalog of the lake: one database per zone, tables built from the event schema."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.paths import LAMBDA_ROOT

# THE event schema: the Firehose Lambda validates with it, the Glue jobs read it, and the raw and
# curated tables are built from it here, so the three can never disagree.
EVENT_SCHEMA_PATH = LAMBDA_ROOT / "firehose_transform" / "event_schema.json"

# Schema types -> Hive/Glue column types (the types etl_schema.SPARK_TYPES knows).
GLUE_TYPES = {"string": "string", "int": "int", "bigint": "bigint", "double": "double",
              "boolean": "boolean", "timestamp": "timestamp"}

CATALOG_ZONES = ("raw", "curated", "features")

# Object-key prefixes inside the zone buckets; Firehose, the jobs and the tables share them.
EVENTS_PREFIX = "events/"
PARTITION_KEY = "event_date"


@dataclass(frozen=True)
class EventSchema:
    """The event schema file as the catalog needs it: ordered columns and the partition key."""

    name: str
    columns: tuple[tuple[str, str, str], ...]  # (name, glue type, comment)

    @classmethod
    def load(cls, path: Path = EVENT_SCHEMA_PATH) -> "EventSchema":
        schema = json.loads(path.read_text(encoding="utf-8"))
        columns = []
        for f in schema["fields"]:
            if f["type"] not in GLUE_TYPES:
                raise ValueError(f"{path}: field {f['name']}: type {f['type']!r} has no Glue column type")
            columns.append((f["name"], GLUE_TYPES[f["type"]], f.get("comment", "")[:255]))
        return cls(name=schema["name"], columns=tuple(columns))

    def glue_columns(self) -> list[glue.CfnTable.ColumnProperty]:
        return [glue.CfnTable.ColumnProperty(name=n, type=t, comment=c or None) for n, t, c in self.columns]


def database_name(prefix: str, zone: str) -> str:
    """Glue/Athena database names allow lower-case letters, digits and underscores only."""
    return f"{prefix}_{zone}".replace("-", "_")


class LakeCatalog(Construct):
    """Glue databases raw, curated and features; `events` tables in raw and curated.

    Behaviour: each database points at its zone bucket and gives new tables NO default
    permissions (no IAMAllowedPrincipals: Lake Formation grants decide); the tables are Parquet,
    partitioned by `event_date` with partition projection (Athena needs no crawler or
    MSCK REPAIR for them); the features zone's tables are left to its crawler, because the
    feature columns change with the encoding statistics.
    """

    def __init__(self, scope: Construct, construct_id: str, *, account: str, prefix: str,
                 buckets: Mapping[str, s3.IBucket], schema: EventSchema) -> None:
        super().__init__(scope, construct_id)
        self.account = account
        self.schema = schema
        self.database_names = {zone: database_name(prefix, zone) for zone in CATALOG_ZONES}
        self.databases: dict[str, glue.CfnDatabase] = {}
        for zone in CATALOG_ZONES:
            self.databases[zone] = glue.CfnDatabase(
                self, f"{zone.capitalize()}Database", catalog_id=account,
                database_input=glue.CfnDatabase.DatabaseInputProperty(
                    name=self.database_names[zone],
                    description=f"{zone} zone of the data lake (governed by Lake Formation)",
                    location_uri=f"s3://{buckets[zone].bucket_name}/",
                    create_table_default_permissions=[],
                ))
        self.events_table_name = schema.name
        self.tables = {
            zone: self._events_table(zone, buckets[zone]) for zone in ("raw", "curated")
        }

    def _events_table(self, zone: str, bucket: s3.IBucket) -> glue.CfnTable:
        location = f"s3://{bucket.bucket_name}/{EVENTS_PREFIX}"
        table = glue.CfnTable(
            self, f"{zone.capitalize()}EventsTable", catalog_id=self.account,
            database_name=self.database_names[zone],
            table_input=glue.CfnTable.TableInputProperty(
                name=self.events_table_name,
                description=f"{self.schema.name} events, {zone} zone (columns from event_schema.json)",
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(
                    name=PARTITION_KEY, type="string", comment="UTC date of event_time, yyyy-MM-dd")],
                parameters={
                    "classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY",
                    "projection.enabled": "true",
                    f"projection.{PARTITION_KEY}.type": "date",
                    f"projection.{PARTITION_KEY}.format": "yyyy-MM-dd",
                    f"projection.{PARTITION_KEY}.range": "2000-01-01,NOW",
                    f"projection.{PARTITION_KEY}.interval": "1",
                    f"projection.{PARTITION_KEY}.interval.unit": "DAYS",
                    "storage.location.template": f"{location}{PARTITION_KEY}=${{{PARTITION_KEY}}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=self.schema.glue_columns(),
                    location=location,
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
                ),
            ))
        table.add_resource_dependency(self.databases[zone])
        return table

    def arns(self, region: str, zones: tuple[str, ...]) -> list[str]:
        """Catalog, database and table ARNs of `zones` (what Glue API permissions are scoped to)."""
        base = f"arn:aws:glue:{region}:{self.account}"
        arns = [f"{base}:catalog"]
        for zone in zones:
            name = self.database_names[zone]
            # Tables of a zone database: every table, including those its crawler creates later.
            arns += [f"{base}:database/{name}", f"{base}:table/{name}/*"]
        return arns
