"""The launcher's run-input check (the steps function's `validate` action): each malformed input is
refused with the field and the reason, automated labeling below 1,250 objects is refused with the
count, and a valid input returns the objects counted in the manifest (moto S3)."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

RAW = "mlp-dev-raw-111122223333"
MANIFEST = f"s3://{RAW}/labeling/review-1.manifest"


@pytest.fixture
def al_handler(lambda_handler_loader):
    return lambda_handler_loader("labeling_active_learning", "labeling_validate_handler")


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=RAW, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def _manifest(s3, objects: int, extra: str = "") -> None:
    body = "".join(json.dumps({"source": json.dumps({"event_id": f"evt-{i}"})}) + "\n" for i in range(objects))
    s3.put_object(Bucket=RAW, Key="labeling/review-1.manifest", Body=body + extra)


def _event(**request):
    base = {"jobName": "mlp-dev-review-1", "manifestUri": MANIFEST, "labels": ["0", "1"], "taskType": "custom",
            "automatedLabeling": False, "objectCount": 0, "workersPerObject": 3, "labelAttributeName": "label"}
    return {"action": "validate", "request": {**base, **request}, "jobNamePrefix": "mlp-dev",
            "inputPrefix": f"s3://{RAW}/labeling/"}


def test_a_valid_launch_returns_the_objects_counted_in_the_manifest(al_handler, s3):
    # GIVEN a manifest of 3 objects and a launch that claims none
    _manifest(s3, 3, extra="\n")
    # WHEN the launcher validates it, THEN the count comes from the manifest
    assert al_handler.handler(_event(), None, client=s3) == {"objectCount": 3}


@pytest.mark.parametrize("request_fields, reason", [
    ({"jobName": None}, "jobName: a job name is required"),
    ({"jobName": "other-review-1"}, "must start with 'mlp-dev'"),
    ({"jobName": "mlp-dev_review"}, "letters, digits and hyphens"),
    ({"labels": []}, "labels: need one or more distinct"),
    ({"labels": ["0", "0"]}, "labels: need one or more distinct"),
    ({"taskType": "video"}, "taskType: 'video' is not one of"),
    ({"workersPerObject": 0}, "workersPerObject: 0 is not between 1 and 9"),
    ({"workersPerObject": "3"}, "workersPerObject: a whole number"),
    ({"automatedLabeling": "yes"}, "automatedLabeling: true or false"),
    ({"manifestUri": None}, "manifestUri: an s3:// URI is required"),
    ({"manifestUri": "s3://elsewhere/labeling/x.manifest"}, f"is not under s3://{RAW}/labeling/"),
    ({"manifestUri": f"s3://{RAW}/labeling/missing.manifest"}, "does not exist"),
    ({"automatedLabeling": True}, "supports text-classification, image-classification, bounding-box only"),
    ({"automatedLabeling": True, "taskType": "text-classification"},
     "the manifest lists 3 objects; automated data labeling needs at least 1,250"),
])
def test_malformed_launches_are_refused_with_the_field_and_reason(al_handler, s3, request_fields, reason):
    _manifest(s3, 3)
    with pytest.raises(Exception) as raised:
        al_handler.handler(_event(**request_fields), None, client=s3)
    assert type(raised.value).__name__ == "InvalidLabelingRequest"
    assert reason in str(raised.value)


@pytest.mark.parametrize("body, reason", [
    ("", "lists no data object"),
    ('{"source": "a"}\nnot json\n', "line 2 is not JSON"),
    ('{"other": 1}\n', "line 1 has neither source nor source-ref"),
])
def test_unusable_manifests_are_refused_with_the_line(al_handler, s3, body, reason):
    s3.put_object(Bucket=RAW, Key="labeling/review-1.manifest", Body=body)
    with pytest.raises(Exception) as raised:
        al_handler.handler(_event(), None, client=s3)
    assert type(raised.value).__name__ == "InvalidLabelingRequest" and reason in str(raised.value)


def test_automated_labeling_at_the_minimum_is_accepted(al_handler, s3):
    _manifest(s3, 1250)
    event = _event(automatedLabeling=True, taskType="image-classification")
    assert al_handler.handler(event, None, client=s3) == {"objectCount": 1250}
