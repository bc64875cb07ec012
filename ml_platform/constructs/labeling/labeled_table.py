"""The `labeled_events` Glue table: the rows the labeling-job launcher exports from each finished
job's output manifest, in the curated database, so Athena and the Glue jobs read labels like any
other table of the zone.

Behaviour: JSON lines (OpenX JSON SerDe) under `s3://<curated>/labeled/tables/labeled_events/`, one
file per labeling job (`<job>.jsonl`, rewritten if the job is exported again), not partitioned (a
job's rows carry `labeling_job`). Columns: the event schema's fields (timestamps as the ISO-8601
strings the manifest holds), then `source` (the object when it was not one JSON record, e.g. an
image's s3 URI), `label`, `label_confidence` and `labeling_job`. The table lives in the curated
database, so it carries the database's LF-tags (`zone=curated`): whoever Lake Formation lets read
the curated zone reads it, nobody else. Objects a job could not label are kept beside it under
`labeled/tables/labeling_rejects/` with Ground Truth's reason (not part of the table).
"""

from __future__ import annotations

from aws_cdk import aws_glue as glue
from constructs import Construct

from ml_platform.constructs.data.catalog import EventSchema, database_name

TABLE_NAME = "labeled_events"
TABLES_PREFIX = "labeled/tables"
TABLE_PREFIX = f"{TABLES_PREFIX}/{TABLE_NAME}"
REJECTS_PREFIX = f"{TABLES_PREFIX}/labeling_rejects"
LABEL_COLUMNS = (
    ("source", "string", "the data object when it is not one JSON record (e.g. an image's s3 URI)"),
    ("label", "string", "the consolidated label (a label category of the job)"),
    ("label_confidence", "double", "the consolidation's confidence in the label, 0-1"),
    ("labeling_job", "string", "the Ground Truth labeling job that produced the label"),
)


def labeled_table_columns(schema: EventSchema) -> list[tuple[str, str, str]]:
    """(name, Glue type, comment): the event schema's fields, then the label columns."""
    fields = [(n, "string" if t == "timestamp" else t, c) for n, t, c in schema.columns]
    return fields + [c for c in LABEL_COLUMNS if c[0] not in {f[0] for f in fields}]


class LabeledEventsTable(Construct):
    """`self.table`: `<prefix>_curated.labeled_events` over the exported labels."""

    def __init__(self, scope: Construct, construct_id: str, *, account: str, prefix: str, curated_bucket: str,
                 schema: EventSchema) -> None:
        super().__init__(scope, construct_id)
        self.database_name = database_name(prefix, "curated")
        self.location = f"s3://{curated_bucket}/{TABLE_PREFIX}/"
        columns = [glue.CfnTable.ColumnProperty(name=n, type=t, comment=c or None)
                   for n, t, c in labeled_table_columns(schema)]
        self.table = glue.CfnTable(
            self, "Table", catalog_id=account, database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE_NAME,
                description="Labels from Ground Truth labeling jobs, one row per labelled object "
                            "(exported by the labeling-job launcher)",
                table_type="EXTERNAL_TABLE",
                parameters={"classification": "json", "EXTERNAL": "TRUE"},
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=columns,
                    location=self.location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe"),
                ),
            ))
