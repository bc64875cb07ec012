"""The point-in-time training set: feature values as of each label's event time, never later, on
data where a later value would change the answer."""
from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from features_testkit import CURATED_SCHEMA, curated_rows

from etl_point_in_time import GroupJoin, as_of_join

GLUE_DIR = Path(__file__).resolve().parents[3] / "glue_jobs"
OFFLINE = "write_time timestamp, api_invocation_time timestamp, is_deleted boolean"
PROFILE_SCHEMA = f"customer_id string, event_time string, num_prev_transactions bigint, {OFFLINE}"


def _t(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, 1, hour, minute, tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _profile(customer: str, at: datetime, value: int | None, written: datetime, deleted: bool = False):
    return (customer, _iso(at), value, written, written, deleted)


@pytest.fixture(scope="module")
def labels(spark):
    rows = [("evt-1", "cust-A", _t(10), 1), ("evt-2", "cust-A", _t(12), 0), ("evt-3", "cust-B", _t(10), 0),
            ("evt-4", "cust-C", _t(8), 0), ("evt-5", "cust-A", _t(11), 1), ("evt-6", None, _t(10), 0)]
    return spark.createDataFrame(rows, "event_id string, customer_id string, event_time timestamp, is_fraud int")


def test_each_label_gets_the_value_as_of_its_own_time(spark, labels):
    # GIVEN a customer profile with values before and after the labels, a correction, and a deletion
    profiles = spark.createDataFrame([
        _profile("cust-A", _t(9), 5, written=_t(9, 1)),
        _profile("cust-A", _t(9), 6, written=_t(13)),      # correction of the 09:00 value, written later
        _profile("cust-A", _t(11), 99, written=_t(11, 1)),  # after evt-1: would change its answer
        _profile("cust-B", _t(9), 3, written=_t(9, 1)),
        _profile("cust-B", _t(9, 30), None, written=_t(9, 31), deleted=True),
        _profile("cust-C", _t(9), 7, written=_t(9, 1)),     # after cust-C's only label
    ], PROFILE_SCHEMA)
    group = GroupJoin(profiles, "customer_id", "event_time", "customer_id", ("num_prev_transactions",))
    # WHEN the labels are joined as of their event time
    joined = as_of_join(labels, label_time="event_time", groups=[group])
    got = {r["event_id"]: r["num_prev_transactions"] for r in joined.collect()}
    # THEN no value from after a label's time is used; equal times count; deletions and gaps are null
    assert got == {"evt-1": 6, "evt-2": 99, "evt-3": None, "evt-4": None, "evt-5": 99, "evt-6": None}
    assert joined.count() == labels.count()


def test_unix_seconds_event_times_join_the_same_way(spark, labels):
    # GIVEN a group whose event time feature is Fractional (Unix seconds)
    schema = f"customer_id string, event_time double, num_prev_transactions bigint, {OFFLINE}"
    profiles = spark.createDataFrame([
        ("cust-A", _t(9).timestamp(), 5, _t(9), _t(9), False),
        ("cust-A", _t(10).timestamp() + 0.001, 42, _t(10), _t(10), False),  # one millisecond too late
    ], schema)
    group = GroupJoin(profiles, "customer_id", "event_time", "customer_id", ("num_prev_transactions",))
    got = {r["event_id"]: r["num_prev_transactions"]
           for r in as_of_join(labels, label_time="event_time", groups=[group]).collect()}
    assert got["evt-1"] == 5 and got["evt-2"] == 42


def test_feature_names_used_twice_are_refused(spark, labels):
    group = GroupJoin(labels, "customer_id", "event_time", "customer_id", ("is_fraud",))
    with pytest.raises(ValueError, match=r"\['is_fraud'\]"):
        as_of_join(labels, label_time="event_time", groups=[group])


def _entry(name: str):
    spec = importlib.util.spec_from_file_location(f"glue_entry_{name}", GLUE_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _offline(rows: list[dict], columns: list[str], *, later: timedelta = timedelta(0)) -> list[dict]:
    """Rows as the offline store holds them: String event time, write time, not deleted."""
    out = []
    for row in rows:
        written = row["event_time"] + later + timedelta(seconds=2)
        out.append({**{c: row[c] for c in columns}, "event_time": _iso(row["event_time"] + later),
                    "write_time": written, "api_invocation_time": written, "is_deleted": False})
    return out


def _csv(folder: Path) -> list[str]:
    return sorted(line for p in folder.rglob("part-*") for line in p.read_text().splitlines())


def test_training_channels_from_the_store_equal_the_etls_even_with_later_values_in_the_store(
        spark, synthetic, tmp_path):
    # GIVEN curated events, and offline stores holding each event's features plus, one day later,
    # a new value for every record (amounts x1000, account ages 99999): the kind of data that leaks
    rows = curated_rows(synthetic.make_events(300, seed=5))
    curated = tmp_path / "curated"
    spark.createDataFrame(rows, CURATED_SCHEMA).write.parquet(str(curated))
    txn_cols = ["event_id", "customer_id", "merchant_id", "merchant_category", "channel", "country",
                "device_type", "amount"]
    later = [{**r, "amount": (r["amount"] or 0) * 1000, "account_age_days": 99999} for r in rows]
    txn = _offline(rows, txn_cols) + _offline(later, txn_cols, later=timedelta(days=1))
    prof_cols = ["customer_id", "account_age_days", "num_prev_transactions"]
    prof = _offline(rows, prof_cols) + _offline(later, prof_cols, later=timedelta(days=1))
    store = {"transactions": tmp_path / "offline-txn", "profile": tmp_path / "offline-profile"}
    txn_schema = ("event_id string, customer_id string, merchant_id string, merchant_category string, "
                  "channel string, country string, device_type string, amount double, event_time string, "
                  f"{OFFLINE}")
    prof_schema = f"customer_id string, account_age_days bigint, num_prev_transactions bigint, event_time string, {OFFLINE}"
    spark.createDataFrame(txn, txn_schema).write.parquet(str(store["transactions"]))
    spark.createDataFrame(prof, prof_schema).write.parquet(str(store["profile"]))
    groups = [
        {"path": str(store["transactions"]), "record_identifier": "event_id", "event_time_feature": "event_time",
         "join_key": "event_id", "features": txn_cols[2:]},
        {"path": str(store["profile"]), "record_identifier": "customer_id", "event_time_feature": "event_time",
         "join_key": "customer_id", "features": prof_cols[1:]}]
    common = ["--split_ratios", "0.8,0.1,0.1", "--seed", "3", "--hash_buckets", "8"]
    # WHEN the ETL and the store-based job each build the training channels (each fitting its stats)
    _entry("curated_to_features").main([
        "--source_path", str(curated), "--target_path", str(tmp_path / "etl-features"),
        "--csv_output_path", str(tmp_path / "etl-csv"), "--stats_path", str(tmp_path / "etl-stats.json"), *common])
    summary = _entry("feature_store_to_training").main([
        "--labels_path", str(curated), "--feature_groups", json.dumps(groups),
        "--target_path", str(tmp_path / "fs-features"), "--csv_output_path", str(tmp_path / "fs-csv"),
        "--stats_path", str(tmp_path / "fs-stats.json"), *common])
    # THEN the channels are identical, line for line, and so are the fitted statistics: no later
    # value reached training; the completion marker the pipeline waits for is written
    for split in ("train", "validation", "test"):
        assert _csv(tmp_path / "fs-csv" / split) == _csv(tmp_path / "etl-csv" / split)
    assert json.loads((tmp_path / "fs-stats.json").read_text()) == json.loads((tmp_path / "etl-stats.json").read_text())
    assert json.loads((tmp_path / "fs-csv" / "_SUCCESS").read_text())["rows_by_split"] == summary["rows_by_split"]


def test_a_feature_named_apart_from_its_source_becomes_the_curated_column(spark, labels, tmp_path):
    # GIVEN an offline store whose feature `prev_txn_count` is the curated `num_prev_transactions`
    # (the CDK app renders `features` as {feature name: curated column})
    schema = f"customer_id string, event_time string, prev_txn_count bigint, {OFFLINE}"
    rows = [("cust-A", _iso(_t(9)), 5, _t(9), _t(9), False), ("cust-A", _iso(_t(11)), 99, _t(11), _t(11), False)]
    path = tmp_path / "offline"
    spark.createDataFrame(rows, schema).write.parquet(str(path))
    entry = {"path": str(path), "record_identifier": "customer_id", "event_time_feature": "event_time",
             "join_key": "customer_id", "features": {"prev_txn_count": "num_prev_transactions"}}
    # WHEN the job turns the entry into its join
    group = _entry("feature_store_to_training").group_join(spark, entry)
    joined = as_of_join(labels, label_time="event_time", groups=[group])
    # THEN the value arrives under the curated name, still as of each label's time
    got = {r["event_id"]: r["num_prev_transactions"] for r in joined.collect()}
    assert got["evt-1"] == 5 and got["evt-2"] == 99 and "prev_txn_count" not in joined.columns


def test_the_cdk_apps_training_columns_are_the_etl_encoders_inputs():
    # The synth-time check (every training column from exactly one group) must ask for what
    # build_features encodes; the two lists live on both sides of the CDK/Glue boundary.
    from etl_stats import FeatureSpec
    from ml_platform.config_sections.features import LABEL_COLUMNS, TRAINING_COLUMNS
    spec = FeatureSpec()
    assert sorted(TRAINING_COLUMNS) == sorted({*spec.numeric, *spec.onehot, *spec.binary, *spec.hashed})
    assert _entry("feature_store_to_training").OPTIONAL["label_columns"].split(",") == list(LABEL_COLUMNS)
