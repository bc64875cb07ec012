"""Settings every test needs before aws_cdk or the sagemaker SDK is imported, and the fixtures that
load Lambda handlers and recorded AWS events."""
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "tests" / "events"


def load_lambda_handler(function: str, module_name: str):
    """`lambda/<function>/handler.py` under a name no other test uses (`lambda` is a keyword, and
    every function has a handler.py); its folder goes on sys.path as Lambda puts it there."""
    folder = ROOT / "lambda" / function
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(module_name, folder / "handler.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def lambda_handler_loader():
    """`lambda_handler_loader(function, module_name)`: see `load_lambda_handler`."""
    return load_lambda_handler


@pytest.fixture
def load_event():
    """`load_event("name.json")`: a recorded AWS event payload from tests/events/."""
    return lambda name: json.loads((EVENTS_DIR / name).read_text())
