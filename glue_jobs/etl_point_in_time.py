"""Point-in-time join (pure PySpark): each label gets, from each feature group's offline store, the
feature values as they were at the label's event time, never a later one.

Offline-store rows carry the group's features plus Feature Store's own columns `write_time`,
`api_invocation_time` and `is_deleted`. For one label and one group the value is the record with
the largest event time <= the label's time; among rows of that same event time (a record written
again, a correction) the latest `write_time` wins; if that row is a deletion, the features are
null. This is event-time semantics, the same as Feature Store's `point_in_time_accurate_join`.

Scales as a sort, not a range join: labels and records of one key are unioned, ordered by time
(records before labels at equal times, so `<=` holds), and the last record seen is carried forward.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

STORE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")
_ROW, _KEY, _TIME, _KIND, _VALUES = "_label_row", "_key", "_t", "_kind", "_values"


@dataclass(frozen=True)
class GroupJoin:
    """One feature group's offline-store rows and how labels find theirs."""

    records: DataFrame
    record_identifier: str
    event_time: str
    join_key: str
    features: tuple[str, ...]


def as_instant(column: Column, data_type: str) -> Column:
    """An event-time column as a timestamp: ISO-8601 strings (Feature Store's String event time)
    or Unix seconds (Fractional)."""
    if data_type in ("double", "float", "bigint", "int", "decimal"):
        return F.timestamp_micros((column * F.lit(1_000_000)).cast("bigint"))
    if data_type == "timestamp":
        return column
    return F.to_timestamp(column)


def _latest_per_event_time(group: GroupJoin) -> DataFrame:
    """One row per (identifier, event time): the last written, with its deletion flag."""
    records = group.records
    kind = dict(records.dtypes)[group.event_time]
    ordered = Window.partitionBy(group.record_identifier, _TIME).orderBy(
        F.col("write_time").desc_nulls_last(), F.col("api_invocation_time").desc_nulls_last())
    staged = records.withColumn(_TIME, as_instant(F.col(group.event_time), kind))
    latest = staged.withColumn("_n", F.row_number().over(ordered)).filter("_n = 1")
    values = F.struct(*[F.col(f) for f in group.features], F.coalesce(F.col("is_deleted"), F.lit(False))
                      .alias("is_deleted"))
    return latest.select(F.col(group.record_identifier).cast("string").alias(_KEY), _TIME,
                         F.lit(0).alias(_KIND), F.lit(None).cast("bigint").alias(_ROW), values.alias(_VALUES))


def _join_group(labels: DataFrame, label_time: str, group: GroupJoin) -> DataFrame:
    records = _latest_per_event_time(group)
    label_rows = labels.select(F.col(group.join_key).cast("string").alias(_KEY), F.col(label_time).alias(_TIME),
                               F.lit(1).alias(_KIND), F.col(_ROW),
                               F.lit(None).cast(records.schema[_VALUES].dataType).alias(_VALUES))
    carry = Window.partitionBy(_KEY).orderBy(_TIME, _KIND).rowsBetween(Window.unboundedPreceding, 0)
    joined = (records.unionByName(label_rows)
              .withColumn("_asof", F.last(_VALUES, ignorenulls=True).over(carry))
              .filter(F.col(_KIND) == 1))
    live = ~F.coalesce(F.col("_asof.is_deleted"), F.lit(False))
    return joined.select(_ROW, *[F.when(live, F.col(f"_asof.{f}")).alias(f) for f in group.features])


def as_of_join(labels: DataFrame, *, label_time: str, groups: list[GroupJoin]) -> DataFrame:
    """`labels` with every group's features added as of each row's `label_time` (a timestamp).

    Labels whose key has no record at or before their time get nulls (imputed downstream like any
    missing value); labels with a null key or time are kept with nulls too. Feature names must be
    unique across groups and must not clash with label columns.
    """
    names = [f for g in groups for f in g.features]
    clashes = sorted({f for f in names if names.count(f) > 1} | (set(names) & set(labels.columns)))
    if clashes:
        raise ValueError(f"feature names used twice or already label columns: {clashes}")
    # Checkpointed so the row ids stay fixed however often the joins below read the labels.
    result = labels.withColumn(_ROW, F.monotonically_increasing_id()).localCheckpoint(eager=True)
    for group in groups:
        result = result.join(_join_group(result, label_time, group), _ROW, "left")
    return result.drop(_ROW)
