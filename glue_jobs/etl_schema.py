"""The event schema (lambda/firehose_transform/event_schema.json) as Spark sees it.

The Glue jobs read the same file the Firehose Lambda validates with, so the curated zone
has exactly the schema's columns and types.
"""
from __future__ import annotations

import json

from pyspark.sql import types as T

SPARK_TYPES = {
    "string": T.StringType(), "int": T.IntegerType(), "bigint": T.LongType(),
    "double": T.DoubleType(), "boolean": T.BooleanType(), "timestamp": T.TimestampType(),
}


def parse_event_schema(text: str) -> dict:
    """Parse the schema JSON and check every field type is one the jobs handle."""
    schema = json.loads(text)
    for f in schema["fields"]:
        if f["type"] not in SPARK_TYPES:
            raise ValueError(f"event schema field {f['name']}: unsupported type {f['type']}")
    return schema


def curated_struct(schema: dict) -> T.StructType:
    """Spark StructType of the curated zone (schema fields, in order; event_date added on write)."""
    return T.StructType([T.StructField(f["name"], SPARK_TYPES[f["type"]], True) for f in schema["fields"]])


def field_names(schema: dict) -> list[str]:
    """Schema field names in file order."""
    return [f["name"] for f in schema["fields"]]
