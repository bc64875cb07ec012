"""Fixtures for the monitoring function: its modules on sys.path, settings shaped like the dev
stack's, and real botocore clients checked by Stubber (moto has no monitoring or processing-job
state for this flow)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_DIR = ROOT / "lambda" / "monitoring_runner"
for folder in (FUNCTION_DIR, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from runner_testkit import ACCOUNT, BUCKET, KEY, REGION  # noqa: E402


@pytest.fixture(scope="session")
def handler_module(lambda_handler_loader):
    return lambda_handler_loader("monitoring_runner", "monitoring_runner_handler")


@pytest.fixture
def env() -> dict:
    return {"JOB_PREFIX": "mlp-dev-monitor", "ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/mlp-dev-monitoring-job",
            "IMAGE_URI": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0",
            "CODE_URI": f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/sourcedir-0123456789abcdef.tar.gz",
            "INSTANCE_TYPE": "ml.m5.large", "VOLUME_SIZE_GB": "30", "MAX_RUNTIME_S": "3600", "KMS_KEY_ARN": KEY,
            "SUBNET_IDS": "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788", "SECURITY_GROUP_IDS": "sg-0123456789abcdef0",
            "CAPTURE_S3_URI": f"s3://{BUCKET}/data-capture", "LABELS_S3_URI": f"s3://{BUCKET}/monitoring/ground-truth",
            "REPORTS_S3_URI": f"s3://{BUCKET}/monitoring/reports", "WINDOW_HOURS": "1", "LABEL_LOOKBACK_HOURS": "1",
            "MONITOR_ARGUMENTS": json.dumps(["--problem-type", "BinaryClassification", "--comparison-threshold", "0.1"])}


@pytest.fixture
def clients():
    """(sagemaker, s3, cloudwatch) clients and their stubbers, checked for pending calls at the end."""
    made = [boto3.client(name, region_name=REGION) for name in ("sagemaker", "s3", "cloudwatch")]
    stubs = [Stubber(c) for c in made]
    for stub in stubs:
        stub.activate()
    yield made, stubs
    for stub in stubs:
        stub.assert_no_pending_responses()
        stub.deactivate()
