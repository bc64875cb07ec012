"""Raw -> curated transforms (pure PySpark): type cleaning, validation, dedup by event_id.

Every conversion goes through `try_cast` so a bad value becomes a counted rejection, never a
job failure, whichever ANSI mode the runtime has (off in Glue 5.0 / Spark 3.5, on by default
in Spark 4). The checks mirror the Firehose Lambda's, driven by the same schema file, so a
record that reached the raw zone another way is held to the same contract.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from etl_schema import field_names

REASON = "_reject_reason"
SOURCE_FILE = "_source_file"
_INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}


@dataclass
class CurateResult:
    """Curated rows (deduplicated), rejected rows (with `_reject_reason`), and the counts."""

    curated: DataFrame
    rejected: DataFrame


def _text(df: DataFrame, name: str) -> Column:
    # Everything is read through its string form: JSON read as strings and typed Parquet
    # converge on one parser. Empty/blank strings count as missing, as in the Lambda.
    if name not in df.columns:
        return F.lit(None).cast("string")
    s = F.trim(F.col(name).cast("string"))
    return F.when(s == "", None).otherwise(s)


def _try_cast(name: str, kind: str) -> Column:
    # SQL try_cast (the Spark 3.5 Python API has no try_cast); `name` is a staged column.
    return F.expr(f"try_cast(`{name}` as {kind})")


def _typed(spec: dict, raw_name: str) -> Column:
    kind, s = spec["type"], F.col(raw_name)
    if kind == "string":
        case = spec.get("case")
        return F.lower(s) if case == "lower" else F.upper(s) if case == "upper" else s
    if kind in ("int", "bigint"):
        # Lossless only: "3" and "3.0" are 3, "3.5" is rejected.
        as_long = _try_cast(raw_name, "bigint")
        as_double = _try_cast(raw_name, "double")
        lo, hi = _INT_BOUNDS[kind]
        from_double = F.when((as_double == F.floor(as_double)) & as_double.between(lo, hi),
                             as_double.cast("bigint"))
        value = F.coalesce(as_long, from_double)
        return F.when(value.between(lo, hi), value).cast(kind)
    if kind == "double":
        d = _try_cast(raw_name, "double")
        return F.when(~F.isnan(d) & (F.abs(d) != float("inf")), d)
    if kind == "boolean":
        low = F.lower(s)
        return F.when(low == "true", True).when(low == "false", False)
    return _try_cast(raw_name, "timestamp")  # timestamp; session time zone is UTC


def _violation(spec: dict, raw: Column, value: Column) -> Column:
    name = spec["name"]
    checks: list[tuple[Column, str]] = []
    if spec.get("required"):
        checks.append((raw.isNull(), "missing_required"))
    checks.append((raw.isNotNull() & value.isNull(), "wrong_type"))
    if "allowed" in spec:
        checks.append((~value.isin(spec["allowed"]), "not_allowed"))
    if "max_length" in spec:
        checks.append((F.length(value) > spec["max_length"], "too_long"))
    if "min_length" in spec:
        checks.append((F.length(value) < spec["min_length"], "too_short"))
    if "pattern" in spec:
        checks.append((~value.rlike(spec["pattern"]), "pattern_mismatch"))
    bound = (lambda v: F.to_timestamp(F.lit(v))) if spec["type"] == "timestamp" else F.lit
    if "min" in spec:
        checks.append((value < bound(spec["min"]), "out_of_range"))
    if "max" in spec:
        checks.append((value > bound(spec["max"]), "out_of_range"))
    reason = F.lit(None).cast("string")
    for condition, code in reversed(checks):
        reason = F.when(F.coalesce(condition, F.lit(False)), F.lit(f"{code}:{name}")).otherwise(reason)
    return reason


def clean(raw: DataFrame, schema: dict) -> DataFrame:
    """Typed schema columns + `_source_file` + `_reject_reason` (null when the row is valid)."""
    spark = raw.sparkSession
    if spark.conf.get("spark.sql.session.timeZone") != "UTC":
        raise ValueError("set spark.sql.session.timeZone=UTC: event_date is the UTC date")
    source = F.col(SOURCE_FILE) if SOURCE_FILE in raw.columns else F.input_file_name()
    texts = {f["name"]: _text(raw, f["name"]) for f in schema["fields"]}
    staged = raw.select(*[texts[n].alias(f"_raw_{n}") for n in texts], source.alias(SOURCE_FILE))
    typed = [_typed(f, f"_raw_{f['name']}").alias(f["name"]) for f in schema["fields"]]
    staged = staged.select("*", *typed)
    reasons = [_violation(f, F.col(f"_raw_{f['name']}"), F.col(f["name"])) for f in schema["fields"]]
    return staged.select(*field_names(schema), SOURCE_FILE, F.coalesce(*reasons).alias(REASON))


def dedup_latest(df: DataFrame, key: str = "event_id") -> DataFrame:
    """One row per `key`: the latest event_time; ties broken by source file, then row content.

    The tie-breakers make the pick deterministic (same input -> same output) even for exact
    duplicates from producer retries, whatever the partitioning.
    """
    content = F.sha2(F.to_json(F.struct(*[F.col(c) for c in df.columns])), 256)
    order = [F.col("event_time").desc_nulls_last()]
    if SOURCE_FILE in df.columns:
        order.append(F.col(SOURCE_FILE).desc_nulls_last())
    window = Window.partitionBy(key).orderBy(*order, content.desc())
    return df.withColumn("_rank", F.row_number().over(window)).filter("_rank = 1").drop("_rank")


def curate(raw: DataFrame, schema: dict) -> CurateResult:
    """Clean, split valid/rejected, deduplicate valid rows, add the event_date partition."""
    flagged = clean(raw, schema)
    rejected = flagged.filter(F.col(REASON).isNotNull())
    valid = flagged.filter(F.col(REASON).isNull()).drop(REASON)
    curated = dedup_latest(valid).withColumn("event_date", F.date_format("event_time", "yyyy-MM-dd"))
    return CurateResult(curated=curated.drop(SOURCE_FILE), rejected=rejected)
