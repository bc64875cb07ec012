"""Fixtures for the endpoint deployer: its modules on sys.path, recorded events, settings shaped like
the staging stack's, and real botocore clients whose calls are checked by Stubber (moto has no
UpdateEndpoint)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[3]
DEPLOYER_DIR = ROOT / "lambda" / "endpoint_deployer"
for folder in (DEPLOYER_DIR, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from deployer_testkit import REGION, ROLE_ARN, endpoint_document, scaling_document  # noqa: E402


@pytest.fixture(scope="session")
def handler_module(lambda_handler_loader):
    """handler.py under a name no other test uses."""
    return lambda_handler_loader("endpoint_deployer", "endpoint_deployer_handler")




@pytest.fixture
def env() -> dict:
    return {
        "ENDPOINT_SPEC": json.dumps(endpoint_document()),
        "SCALING_SPEC": json.dumps(scaling_document()),
        "MODEL_PACKAGE_GROUP": "mlp-stg-models",
        "EXECUTION_ROLE_ARN": ROLE_ARN,
        "SUBNET_IDS": "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788",
        "SECURITY_GROUP_IDS": "sg-0123456789abcdef0",
        "MULTI_MODEL_PREFIX": "",
        "AWS_REGION": REGION,  # set by Lambda
    }




@pytest.fixture
def settings(env):
    from deployer_settings import settings_from
    return settings_from(env)


def _client(service: str):
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def sagemaker():
    client = _client("sagemaker")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def autoscaling():
    client = _client("application-autoscaling")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def cloudwatch():
    client = _client("cloudwatch")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()




