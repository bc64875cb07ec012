"""The curated -> feature group backfill job on local[2] Spark, PutRecord answered by a fake Feature
Store behind a real botocore client: idempotent by (record identifier, event time), nothing lost."""
from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import fake_featurestore
import pytest
from features_testkit import CURATED_SCHEMA, TARGETS, curated_rows

GLUE_DIR = Path(__file__).resolve().parents[3] / "glue_jobs"
TRANSACTIONS = TARGETS[0]


@pytest.fixture(scope="module")
def job():
    spec = importlib.util.spec_from_file_location("glue_entry_curated_to_feature_store",
                                                  GLUE_DIR / "curated_to_feature_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def curated(spark, synthetic, tmp_path_factory):
    """200 curated transactions, two of them twice (a replayed file), one with no merchant_id."""
    rows = curated_rows(synthetic.make_events(200, seed=11))
    rows += [dict(rows[5]), dict(rows[6])]
    rows[7]["merchant_id"] = None
    path = tmp_path_factory.mktemp("curated") / "zone"
    spark.createDataFrame(rows, schema=CURATED_SCHEMA).write.parquet(str(path))
    return path, rows



def _args(tmp_path: Path, source: Path, *extra: str) -> list[str]:
    return ["--source_path", str(source), "--feature_target", json.dumps(TRANSACTIONS),
            "--ledger_path", str(tmp_path / "ledger"), "--rejected_path", str(tmp_path / "rejected"),
            "--partitions", "3", "--max_in_flight", "4", *extra]


def _accepted(log_dir: Path) -> Counter:
    return Counter(r["values"]["event_id"] for r in fake_featurestore.requests(str(log_dir)) if r["status"] == 200)


def test_backfill_writes_each_record_once_retries_throttling_and_keeps_refusals(job, spark, curated, tmp_path):
    # GIVEN curated rows, a Feature Store that throttles a fifth of the first attempts and refuses one record
    source, rows = curated
    refused = rows[20]["event_id"]
    log = tmp_path / "requests"
    log.mkdir()
    factory = fake_featurestore.client_factory(str(log), "event_id", throttle_one_in=5, refuse=(refused,))
    # WHEN the backfill runs
    summary = job.main(_args(tmp_path, source, "--max_attempts", "4"), client_factory=factory)
    # THEN every valid record was accepted exactly once (duplicates collapsed), throttled ones after a retry
    accepted = _accepted(log)
    valid_ids = {r["event_id"] for r in rows} - {rows[7]["event_id"], refused}
    assert set(accepted) == valid_ids and set(accepted.values()) == {1}
    statuses = Counter(r["status"] for r in fake_featurestore.requests(str(log)))
    assert statuses[400] > 20  # throttles and the refusal really happened
    assert summary["written"] == 198 and summary["refused_by_feature_store"] == 1
    assert summary["invalid_rows"] == 1 and summary["not_written_after_retries"] == 0
    # AND the values are what the streaming function would send for the same event
    sample = next(r for r in fake_featurestore.requests(str(log))
                  if r["values"]["event_id"] == rows[0]["event_id"] and r["status"] == 200)
    assert sample["group"] == TRANSACTIONS["feature_group_name"]
    assert sample["target_stores"] == ["OnlineStore", "OfflineStore"]
    expected_time = rows[0]["event_time"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert sample["values"]["event_time"] == expected_time
    assert float(sample["values"]["amount"]) == rows[0]["amount"]
    # AND the refusal and the invalid row are kept with their reasons
    refusals = spark.read.parquet(str(tmp_path / "rejected" / "refused")).collect()
    assert [(r["record_identifier"], "invalid value" in r["_reject_reason"]) for r in refusals] == [(refused, True)]
    invalid = spark.read.parquet(str(tmp_path / "rejected" / "invalid")).collect()
    assert [r["_reject_reason"] for r in invalid] == ["missing:merchant_id"]


def test_a_second_run_writes_nothing_already_written(job, curated, tmp_path):
    # GIVEN a completed backfill
    source, _ = curated
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    job.main(_args(tmp_path, source), client_factory=fake_featurestore.client_factory(str(first), "event_id"))
    # WHEN it runs again on the same curated zone
    summary = job.main(_args(tmp_path, source), client_factory=fake_featurestore.client_factory(str(second), "event_id"))
    # THEN no record is sent again
    assert fake_featurestore.requests(str(second)) == []
    assert summary["written"] == 0 and summary["skipped_already_written"] == 199


def test_records_throttled_past_every_retry_fail_the_run_and_the_next_run_writes_just_them(job, curated, tmp_path):
    # GIVEN one attempt per record and a throttled fifth of the first attempts
    source, _ = curated
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    throttling = fake_featurestore.client_factory(str(first), "event_id", throttle_one_in=5)
    # WHEN the backfill runs THEN it fails, naming the count, after saving the ledger of what it wrote
    with pytest.raises(job.BackfillIncomplete, match="throttled past every retry"):
        job.main(_args(tmp_path, source, "--max_attempts", "1"), client_factory=throttling)
    throttled = {r["values"]["event_id"] for r in fake_featurestore.requests(str(first)) if r["status"] == 400}
    # WHEN it runs again THEN it writes exactly the throttled records, and nothing twice
    summary = job.main(_args(tmp_path, source), client_factory=fake_featurestore.client_factory(str(second), "event_id"))
    assert set(_accepted(second)) == throttled and summary["written"] == len(throttled)
    assert summary["skipped_already_written"] == 199 - len(throttled)
