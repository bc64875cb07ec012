"""Fixtures for the labeling runtime tests: both Ground Truth functions, loaded by path, and a moto S3
bucket holding the consolidation payload where the recorded request points."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "tests" / "events"

# The asset folders as Lambda puts them on sys.path, and the local loop that plays the state machine.
for folder in (ROOT / "lambda" / "labeling_active_learning", ROOT / "lambda" / "labeling_consolidation",
               ROOT / "scripts" / "active_learning"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture(scope="session")
def consolidation(lambda_handler_loader):
    return lambda_handler_loader("labeling_consolidation", "labeling_consolidation_handler")


@pytest.fixture(scope="session")
def pre_annotation(lambda_handler_loader):
    return lambda_handler_loader("labeling_pre_annotation", "labeling_pre_annotation_handler")


@pytest.fixture
def s3_with_payload(load_event):
    """A moto S3 client with the recorded payload file at the recorded request's payload.s3Uri;
    `put(items)` replaces the file's content."""
    request = load_event("labeling_post_annotation_request.json")
    uri = urlparse(request["payload"]["s3Uri"])
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=uri.netloc, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

        def put(body) -> None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            client.put_object(Bucket=uri.netloc, Key=uri.path.lstrip("/"), Body=data)

        put(load_event("labeling_post_annotation_payload.json"))
        client.put_payload = put  # type: ignore[attr-defined]
        yield client
