"""Fixtures for the endpoint proxy: its modules on sys.path, recorded API Gateway REST proxy events, and a
real `sagemaker-runtime` client whose calls are checked by Stubber."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[3]
PROXY_DIR = ROOT / "lambda" / "endpoint_proxy"
EVENTS_DIR = ROOT / "tests" / "events"
if str(PROXY_DIR) not in sys.path:
    sys.path.insert(0, str(PROXY_DIR))


@pytest.fixture(scope="session")
def proxy():
    """handler.py loaded by path under a name no other test uses."""
    spec = importlib.util.spec_from_file_location("endpoint_proxy_handler", PROXY_DIR / "handler.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_event():
    return lambda name: json.loads((EVENTS_DIR / name).read_text())


@pytest.fixture
def runtime():
    client = boto3.client("sagemaker-runtime", region_name="eu-west-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()
