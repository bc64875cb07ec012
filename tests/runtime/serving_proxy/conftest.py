"""Fixtures for the endpoint proxy: its modules on sys.path, recorded API Gateway REST proxy events, and a
real `sagemaker-runtime` client whose calls are checked by Stubber."""
from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[3]
PROXY_DIR = ROOT / "lambda" / "endpoint_proxy"
if str(PROXY_DIR) not in sys.path:
    sys.path.insert(0, str(PROXY_DIR))


@pytest.fixture(scope="session")
def proxy(lambda_handler_loader):
    """handler.py under a name no other test uses."""
    return lambda_handler_loader("endpoint_proxy", "endpoint_proxy_handler")


@pytest.fixture
def runtime():
    client = boto3.client("sagemaker-runtime", region_name="eu-west-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()
