"""Curated rows -> Feature Store records (pure PySpark), the same mapping the streaming function uses.

A target is the JSON object the CDK app renders for each feature group (FEATURE_TARGETS in the
ingestion function, `--feature_target` here): group name, record identifier, event time feature,
target stores and `features: [{name, source, type, required}]`. Values become PutRecord's
ValueAsString exactly as the service reads them: Integral as a long, Fractional as a double,
String as is, and a String event time as `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

KEY_COLUMNS = ("record_identifier", "event_time")
RECORD = "record"  # array<struct<FeatureName, ValueAsString>>, nulls left out
REASON = "_reject_reason"


@dataclass(frozen=True)
class RecordPlan:
    """Records to write (KEY_COLUMNS + RECORD), rows that cannot become a record, and how many
    rows were already in the ledger from an earlier run."""

    to_write: DataFrame
    rejected: DataFrame
    already_written: int


def _value(feature: dict, *, is_event_time: bool) -> Column:
    source = F.col(feature["source"])
    if is_event_time and feature["type"] == "String":
        return F.date_format(source.cast("timestamp"), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    if is_event_time:
        return (F.unix_micros(source.cast("timestamp")) / F.lit(1_000_000)).cast("string")
    kind = {"Integral": "bigint", "Fractional": "double", "String": "string"}[feature["type"]]
    return source.cast(kind).cast("string")


def _reason(target: dict, values: dict[str, Column], curated: DataFrame) -> Column:
    """The first problem of a row as `missing:<feature>` / `no_column:<feature>`, null when none."""
    checks = []
    for feature in target["features"]:
        required = feature.get("required") or feature["name"] in (target["record_identifier"],
                                                                   target["event_time_feature"])
        if feature["source"] not in curated.columns:
            if required:
                checks.append(F.lit(f"no_column:{feature['name']}"))
            continue
        if required:
            checks.append(F.when(values[feature["name"]].isNull(), F.lit(f"missing:{feature['name']}")))
    return F.coalesce(*checks, F.lit(None).cast("string"))


def plan_records(curated: DataFrame, target: dict, ledger: DataFrame | None = None) -> RecordPlan:
    """Map, validate and deduplicate curated rows into the records still to be written.

    Idempotent by (record identifier, event time): one record per pair (a deterministic pick among
    exact-key duplicates), and pairs listed in `ledger` (KEY_COLUMNS) by an earlier run are skipped.
    """
    names = [f["name"] for f in target["features"] if f["source"] in curated.columns]
    values = {f["name"]: _value(f, is_event_time=f["name"] == target["event_time_feature"])
              for f in target["features"] if f["source"] in curated.columns}
    staged = curated.select(*[values[n].alias(n) for n in names], _reason(target, values, curated).alias(REASON))
    rejected = staged.filter(F.col(REASON).isNotNull())
    valid = staged.filter(F.col(REASON).isNull())
    pairs = [F.struct(F.lit(n).alias("FeatureName"), F.col(n).alias("ValueAsString")) for n in names]
    records = valid.select(
        F.col(target["record_identifier"]).alias("record_identifier"),
        F.col(target["event_time_feature"]).alias("event_time"),
        F.filter(F.array(*pairs), lambda p: p["ValueAsString"].isNotNull()).alias(RECORD))
    # Exact-key duplicates (the same event twice in curated): keep one, by content, deterministically.
    window = Window.partitionBy(*KEY_COLUMNS).orderBy(F.sha2(F.to_json(F.col(RECORD)), 256))
    records = records.withColumn("_n", F.row_number().over(window)).filter("_n = 1").drop("_n")
    already = 0
    if ledger is not None:
        before = records.cache()
        records = before.join(ledger.select(*KEY_COLUMNS).distinct(), list(KEY_COLUMNS), "left_anti")
        already = before.count() - records.count()
    return RecordPlan(to_write=records, rejected=rejected, already_written=already)
