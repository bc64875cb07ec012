"""Fixtures for the feature-store runtime tests: the ingestion handler loaded by path with the
settings the CDK app gives it, real boto3 clients checked by botocore Stubber, and a fake clock
that drives both the invocation's remaining time and the backoff sleeps."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

ROOT = Path(__file__).resolve().parents[3]
INGESTION_DIR = ROOT / "lambda" / "feature_ingestion"
GLUE_DIR = ROOT / "glue_jobs"
for folder in (INGESTION_DIR, GLUE_DIR, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from features_testkit import ENV, FakeClock


@pytest.fixture(scope="session")
def ingestion(lambda_handler_loader):
    """handler.py with the dev groups' settings (read at import, as in Lambda)."""
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        return lambda_handler_loader("feature_ingestion", "feature_ingestion_handler")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _client(service: str):
    return boto3.client(service, region_name="eu-west-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture
def clock():
    return FakeClock(remaining_ms=60_000)


@pytest.fixture
def aws(ingestion, clock, monkeypatch):
    """Stubbed Feature Store runtime and SQS clients installed in the handler; every call costs
    clock time. Yields (featurestore stub, sqs stub, sent) where `sent` collects SendMessageBatch
    parameters; the test fails if a queued response was not used."""
    featurestore, sqs = _client("sagemaker-featurestore-runtime"), _client("sqs")
    sent: list[dict] = []
    sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch",
                             lambda params, **_: sent.append(params))
    for client in (featurestore, sqs):
        client.meta.events.register("before-call.*.*", clock.charge)
    monkeypatch.setattr(ingestion, "_clients", {"sagemaker-featurestore-runtime": featurestore, "sqs": sqs})
    monkeypatch.setattr(ingestion, "_sleep", clock.sleep)
    with Stubber(featurestore) as fs_stub, Stubber(sqs) as sqs_stub:
        yield fs_stub, sqs_stub, sent
        fs_stub.assert_no_pending_responses()
        sqs_stub.assert_no_pending_responses()


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local[2] SparkSession; the backfill's executor-side modules are shipped as Glue ships
    --extra-py-files, and the fake Feature Store is pickled by value."""
    import fake_featurestore
    from pyspark import cloudpickle
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("feature-store-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
               .config("spark.default.parallelism", "4").config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
               .config("spark.driver.memory", "1g")
               .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    for module in ("etl_feature_writer.py", "etl_feature_records.py"):
        session.sparkContext.addPyFile(str(GLUE_DIR / module))
    cloudpickle.register_pickle_by_value(fake_featurestore)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def synthetic():
    """The ETL tests' synthetic event generator (tests/runtime/data/synthetic_events.py)."""
    import importlib.util

    path = ROOT / "tests" / "runtime" / "data" / "synthetic_events.py"
    spec = importlib.util.spec_from_file_location("feature_tests_synthetic_events", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
