"""The active-learning Lambda's steps on S3 (moto), as the state machine calls them: files in the
formats the training job, batch transform and Ground Truth read and write, encrypted with the key."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from active_learning_steps import StepError

BUCKET = "mlp-dev-curated-111122223333"
PREFIX = "labeled/active-learning/fraud-2026-12-01/"


@pytest.fixture
def al_handler(lambda_handler_loader):
    return lambda_handler_loader("labeling_active_learning", "labeling_active_learning_handler")


@pytest.fixture
def s3(monkeypatch):
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        key = kms.create_key()["KeyMetadata"]["Arn"]
        monkeypatch.setenv("KMS_KEY_ID", key)
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        rows = "".join(f"evt-{i},{i % 2},{i * 0.5}\n" for i in range(12))
        client.put_object(Bucket=BUCKET, Key=PREFIX + "pool/features.csv", Body=rows)
        records = "".join(json.dumps({"id": f"evt-{i}", "record": {"event_id": f"evt-{i}", "amount": i}}) + "\n"
                          for i in range(12))
        client.put_object(Bucket=BUCKET, Key=PREFIX + "pool/records.jsonl", Body=records)
        client.key_arn = key  # type: ignore[attr-defined]
        yield client


def _read(s3, key: str) -> str:
    return s3.get_object(Bucket=BUCKET, Key=PREFIX + key)["Body"].read().decode()


def test_first_round_sends_a_random_batch_with_a_held_out_share(al_handler, s3, load_event):
    # GIVEN the select step of round 0 (no model yet)
    event = load_event("labeling_active_learning_select.json")
    # WHEN it runs
    result = al_handler.handler(event, None, client=s3)
    # THEN 8 objects go to humans, 2 of them held out, as Ground Truth input manifests with the records
    assert (result["uncertainCount"], result["heldOutCount"], result["autoLabeled"]) == (6, 2, 0)
    lines = [json.loads(x) for x in _read(s3, "rounds/0/humans/uncertain.manifest").splitlines()]
    assert all(set(x) == {"source", "object-id"} for x in lines)
    assert json.loads(lines[0]["source"])["event_id"] == lines[0]["object-id"]
    assert result["uncertainManifestUri"] == f"s3://{BUCKET}/{PREFIX}rounds/0/humans/uncertain.manifest"
    # the budget is reserved at the dearer rate for held-out objects (5 workers) than the rest (3)
    assert result["humanTasksSpent"] == 6 * 3 + 2 * 5
    head = s3.head_object(Bucket=BUCKET, Key=PREFIX + "state/progress.json")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == s3.key_arn


def test_merge_reads_ground_truth_output_and_prepare_writes_the_train_channel(al_handler, s3, load_event):
    # GIVEN round 0's batch sent, and the labeling jobs' output manifests for it
    event = load_event("labeling_active_learning_select.json")
    al_handler.handler(event, None, client=s3)
    outputs = []
    for name in ("uncertain", "held-out"):
        lines = [json.loads(x) for x in _read(s3, f"rounds/0/humans/{name}.manifest").splitlines()]
        out = "".join(json.dumps(x | {"is-fraud": {"label": str(int(x["object-id"][4:]) % 2), "confidence": 1.0},
                                      "is-fraud-metadata": {"type": "groundtruth/custom", "human-annotated": "yes"}})
                      + "\n" for x in lines[:-1])
        # the last object failed in the job: Ground Truth writes only a failure reason for it
        out += json.dumps(lines[-1] | {"is-fraud-metadata": {"failure-reason": "ClientError: no answer"}}) + "\n"
        key = f"jobs/al-0-{name}/manifests/output/output.manifest"
        s3.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=out)
        outputs.append(f"s3://{BUCKET}/{PREFIX}{key}")
    # WHEN merge runs, then prepare for round 1
    merged = al_handler.handler(event | {"action": "merge", "outputManifests": outputs}, None, client=s3)
    prepared = al_handler.handler(event | {"action": "prepare", "round": 1}, None, client=s3)
    # THEN the 6 labelled objects count, the 2 failed ones stay in the pool, and training gets 5 rows
    assert merged == {"round": 1, "humanLabeled": 6, "unlabeled": 6, "humanTasksSpent": 28, "done": False, "reason": ""}
    assert prepared["trainable"] and prepared["trainRows"] == 5  # the held-out object is not trained on
    train = [line.split(",") for line in _read(s3, "rounds/1/train/train.csv").splitlines()]
    assert all(row[0] in ("0", "1") and len(row) == 3 for row in train)
    ids = json.loads(_read(s3, "rounds/1/predict-ids.json"))
    assert len(ids) == prepared["predictRows"] == 7 and len(_read(s3, "rounds/1/predict/input.csv").splitlines()) == 7
    assert prepared["predictOutputUri"] == f"s3://{BUCKET}/{PREFIX}rounds/1/predict-output/"


def test_transform_output_that_does_not_match_its_input_is_refused(al_handler, s3, load_event):
    event = load_event("labeling_active_learning_select.json")
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "rounds/0/predict-ids.json", Body=json.dumps(["evt-1", "evt-2"]))
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "rounds/0/predict-output/input.csv.out", Body="0.9\n")
    with pytest.raises(StepError, match="1 predictions for 2 input rows"):
        al_handler.handler(event, None, client=s3)


@pytest.mark.parametrize("change, reason", [
    ({"action": "train"}, "action must be validate, prepare, select, merge or export"),
    ({"settings": {"classes": ["1"]}}, "settings.classes"),
    ({"settings": {"classes": ["0", "1"], "target_acuracy": 0.9}}, "unknown field"),
    ({"run": {"bucket": BUCKET}}, "run.bucket and run.prefix"),
    ({"action": "merge", "outputManifests": ["/tmp/x"]}, "s3:// URIs"),
])
def test_bad_step_input_names_the_field(al_handler, s3, load_event, change, reason):
    with pytest.raises(StepError, match=reason):
        al_handler.handler(load_event("labeling_active_learning_select.json") | change, None, client=s3)


def test_missing_pool_is_a_clear_error(al_handler, s3, load_event):
    s3.delete_object(Bucket=BUCKET, Key=PREFIX + "pool/features.csv")
    with pytest.raises(StepError, match="pool/features.csv is missing"):
        al_handler.handler(load_event("labeling_active_learning_select.json"), None, client=s3)


def test_export_turns_the_output_manifest_into_table_rows_and_keeps_the_unlabeled(al_handler, s3):
    # GIVEN a finished job's output manifest: one labelled record, one object Ground Truth failed
    lines = [{"source": json.dumps({"event_id": "evt-1", "amount": 3.5}), "is-fraud": {"label": "1", "confidence": 0.67},
              "is-fraud-metadata": {"type": "groundtruth/custom", "human-annotated": "yes"}},
             {"source": json.dumps({"event_id": "evt-2", "amount": 9.0}),
              "is-fraud-metadata": {"failure-reason": "ClientError: annotation timed out"}}]
    key = "labeled/jobs/mlp-dev-review-1/manifests/output/output.manifest"
    s3.put_object(Bucket=BUCKET, Key=key, Body="".join(json.dumps(x) + "\n" for x in lines))
    event = {"action": "export", "jobName": "mlp-dev-review-1", "outputManifest": f"s3://{BUCKET}/{key}",
             "labelAttributeName": "is-fraud", "run": {"bucket": BUCKET, "prefix": "labeled/tables/"}}
    # WHEN the launcher's export step runs
    result = al_handler.handler(event, None, client=s3)
    # THEN the labelled record is a table row with its label, and the failed one is kept with the reason
    assert (result["labeled"], result["unlabeled"]) == (1, 1)
    table = "labeled/tables/labeled_events/mlp-dev-review-1.jsonl"  # the Glue table's location, one file per job
    row = json.loads(s3.get_object(Bucket=BUCKET, Key=table)["Body"].read())
    assert row == {"event_id": "evt-1", "amount": 3.5, "label": "1", "label_confidence": 0.67,
                   "labeling_job": "mlp-dev-review-1"}
    rejects = "labeled/tables/labeling_rejects/mlp-dev-review-1.jsonl"  # outside the table
    kept = json.loads(s3.get_object(Bucket=BUCKET, Key=rejects)["Body"].read())
    assert kept["event_id"] == "evt-2" and kept["reason"] == "ClientError: annotation timed out"
