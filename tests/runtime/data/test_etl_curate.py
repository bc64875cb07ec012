"""raw -> curated transforms on a local SparkSession with a messy synthetic raw zone."""
from __future__ import annotations

from collections import Counter

import pytest

N = 4000
INVALID_KINDS = ["wrong_type:amount", "not_allowed:channel", "missing_required:merchant_id",
                 "out_of_range:amount", "pattern_mismatch:country", "wrong_type:event_time",
                 "not_allowed:is_fraud"]


@pytest.fixture(scope="module")
def raw_events(synthetic):
    return synthetic.make_events(N, seed=11, messy=True)


@pytest.fixture(scope="module")
def curated(spark, synthetic, raw_events, event_schema, tmp_path_factory):
    import etl_curate
    import etl_runtime

    folder = synthetic.write_jsonl(raw_events, tmp_path_factory.mktemp("raw"))
    raw = etl_runtime.read_source(etl_runtime.JobContext(spark=spark), str(folder), "json", "raw")
    result = etl_curate.curate(raw, event_schema)
    return result.curated.cache(), result.rejected.cache()


def test_invalid_rows_are_rejected_and_counted_by_reason(curated):
    # GIVEN a raw zone with 40 invalid rows of 7 kinds  WHEN curated
    _, rejected = curated
    reasons = Counter(r[0] for r in rejected.select("_reject_reason").collect())

    # THEN each is rejected with the reason of its one violation, nothing else is
    expected = Counter(INVALID_KINDS[j % len(INVALID_KINDS)] for j in range(N // 100))
    assert reasons == expected


def test_curated_rows_are_typed_and_normalised(curated, event_schema, raw_events):
    # GIVEN untidy-but-valid rows (padded upper-case channel, lower-case country, amount as text)
    import etl_schema

    rows, _ = curated
    # WHEN curated THEN the columns have the schema's types and the values are normalised
    typed = {f.name: f.dataType for f in rows.schema.fields}
    for field in etl_schema.curated_struct(event_schema).fields:
        assert typed[field.name] == field.dataType
    assert typed["event_date"].typeName() == "string"
    channels = {r[0] for r in rows.select("channel").distinct().collect()}
    assert channels == {"web", "mobile", "pos"}
    countries = [r[0] for r in rows.select("country").distinct().collect()]
    assert all(c == c.upper() and len(c) == 2 for c in countries)
    untidy = next(e for e in raw_events if isinstance(e.get("amount"), str) and e["channel"].startswith(" "))
    got = rows.filter(rows.event_id == untidy["event_id"]).first()
    assert got["amount"] == pytest.approx(float(untidy["amount"]))
    assert got["channel"] == untidy["channel"].strip().lower()


def test_duplicates_keep_the_latest_event(curated, raw_events):
    # GIVEN 40 event_ids that appear twice, the later copy a correction (+1 amount, +1 s)
    rows, _ = curated
    by_id = {}
    for e in raw_events[:N]:
        by_id[e["event_id"]] = e
    corrections = [e for e in raw_events[N:] if e["event_id"] in by_id]
    assert len(corrections) == N // 100

    # WHEN curated THEN every event_id appears once, and a corrected one carries the correction
    assert rows.count() == rows.select("event_id").distinct().count() == N
    ids = [c["event_id"] for c in corrections]
    got = {r["event_id"]: r["amount"] for r in rows.filter(rows.event_id.isin(ids)).collect()}
    assert got == {c["event_id"]: pytest.approx(c["amount"]) for c in corrections}


def test_event_date_is_the_utc_date(curated):
    # GIVEN curated rows  THEN event_date is the UTC calendar date of event_time
    rows, _ = curated
    for r in rows.select("event_time", "event_date").limit(200).collect():
        assert r["event_date"] == r["event_time"].strftime("%Y-%m-%d")


def test_curating_typed_parquet_is_idempotent(spark, curated, event_schema, tmp_path):
    # GIVEN the curated zone written as Parquet partitioned by event_date (typed input)
    import etl_curate

    rows, _ = curated
    path = str(tmp_path / "curated")
    rows.write.partitionBy("event_date").parquet(path)

    # WHEN it is curated again
    again = etl_curate.curate(spark.read.parquet(path), event_schema)

    # THEN nothing is rejected and the rows are identical
    assert again.rejected.count() == 0
    cols = [c for c in rows.columns]
    assert sorted(again.curated.select(cols).collect()) == sorted(rows.select(cols).collect())


def test_clean_refuses_a_non_utc_session(spark, event_schema):
    # GIVEN a session whose time zone is not UTC  WHEN cleaning  THEN it refuses (dates would shift)
    import etl_curate

    spark.conf.set("spark.sql.session.timeZone", "Europe/Paris")
    try:
        with pytest.raises(ValueError, match="UTC"):
            etl_curate.clean(spark.createDataFrame([("a",)], ["event_id"]), event_schema)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
