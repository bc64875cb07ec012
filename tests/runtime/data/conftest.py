"""Fixtures for the data-platform runtime tests: the Firehose transform handler, loaded by path,
and one local SparkSession shared by every Spark test in this folder."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAMBDA_DIR = ROOT / "lambda" / "firehose_transform"
GLUE_DIR = ROOT / "glue_jobs"
SCHEMA_FILE = LAMBDA_DIR / "event_schema.json"

# The asset folders are what Lambda and Glue put on their own sys.path; module names in them
# are prefixed (firehose_*, etl_*) so they cannot clash with other folders' modules.
for folder in (LAMBDA_DIR, GLUE_DIR):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture(scope="session")
def firehose_handler(lambda_handler_loader):
    """The Lambda module, under a name no other test uses."""
    return lambda_handler_loader("firehose_transform", "firehose_transform_handler")


@pytest.fixture(scope="session")
def event_schema() -> dict:
    """The event schema file, as the CDK app and the Glue jobs read it."""
    return json.loads(SCHEMA_FILE.read_text())


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local[2] SparkSession for the whole test session (JVM start-up is the slow part)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("data-platform-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.memory", "1g")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def synthetic():
    """The synthetic event generator module (tests/runtime/data/synthetic_events.py)."""
    path = Path(__file__).resolve().parent / "synthetic_events.py"
    spec = importlib.util.spec_from_file_location("data_tests_synthetic_events", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
