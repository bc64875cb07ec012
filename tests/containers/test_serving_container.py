"""GIVEN the model.tar.gz the tuning trial wrote and the container environment that the RegisterModel
step registers and the deployer's CreateModel request (or the pipeline's CreateModel step) gives
WHEN the AWS XGBoost image's `serve` entry starts with exactly that environment, /opt/ml/model
extracted from the archive, no network THEN /ping answers 200 and an invocation predicts what the
trained booster predicts."""
from __future__ import annotations

import json
import sys
import tarfile

import numpy as np
import pytest
import xgboost as xgb
from container_layout import HERE, container_path, processing_output
from sandbox import base_environment

PACKAGE_ARN = "arn:aws:sagemaker:eu-west-1:333333333333:model-package/mlp-prod-models/1"
MODEL_DATA_URL = "s3://mlp-prod-artifacts-333333333333-eu-west-1/pipelines/mlp-prod-training/models/t-001/output/model.tar.gz"


@pytest.fixture(scope="module")
def deployer(lambda_handler_loader):
    lambda_handler_loader("endpoint_deployer", "containers_endpoint_deployer")
    import deployer_actions
    import deployer_settings

    return deployer_actions, deployer_settings


def registered_container(prod) -> dict:
    (container,) = prod.step("RegisterModel")["Arguments"]["InferenceSpecification"]["Containers"]
    return {**container, "ModelDataUrl": MODEL_DATA_URL}


def deployer_model(prod, deployer) -> tuple[dict, bool]:
    """(environment, network isolated) of the model the deployer creates from the registered package:
    SageMaker runs the package's container with the request's own Environment entries on top."""
    actions, settings_module = deployer
    environment = {**prod.function_environment("Serving", "ENDPOINT_SPEC"), "AWS_REGION": prod.config.region}
    settings = settings_module.settings_from(environment)  # AWS_REGION: set by Lambda itself
    package = {"ModelPackageArn": PACKAGE_ARN, "ModelApprovalStatus": "Approved",
               "InferenceSpecification": {"Containers": [registered_container(prod)]}}
    request = actions.model_request(settings, package)
    primary = request["PrimaryContainer"]
    assert primary.get("ModelPackageName") == PACKAGE_ARN
    return {**registered_container(prod).get("Environment", {}), **primary.get("Environment", {})}, \
        request["EnableNetworkIsolation"]


def pipeline_model(prod, _deployer) -> tuple[dict, bool]:
    """The pipeline's CreateModel step (batch transform of the test split)."""
    arguments = prod.step("CreateModel")["Arguments"]
    return arguments["PrimaryContainer"].get("Environment", {}), arguments.get("EnableNetworkIsolation", False)


def serve_and_probe(sandboxed, root, environment, requests, tmp_path) -> dict:
    requests_file = tmp_path / "requests.json"
    requests_file.write_text(json.dumps(requests))
    command = [sys.executable, str(HERE / "endpoint_probe.py"), str(requests_file), "--",
               sys.executable, str(HERE / "xgboost_image.py"), "serve"]
    result = sandboxed(command, root, {**base_environment(), **environment}, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def hosting_root(tmp_path, model_archive):
    """/opt/ml as SageMaker hosting prepares it: ModelDataUrl extracted into /opt/ml/model."""
    root = tmp_path / "hosting"
    (root / "model").mkdir(parents=True)
    with tarfile.open(model_archive) as tar:
        tar.extractall(root / "model", filter="data")
    return root


def test_prod_deployer_creates_a_network_isolated_model(prod, deployer):
    _, isolated = deployer_model(prod, deployer)
    assert isolated is True


@pytest.mark.parametrize("model_of", [deployer_model, pipeline_model], ids=["deployer", "pipeline-CreateModel"])
def test_serving_entry_starts_offline_and_predicts_like_the_booster(
        prod, deployer, sandboxed, preprocess_job, model_archive, tmp_path, model_of):
    environment, _ = model_of(prod, deployer)
    assert environment["SAGEMAKER_PROGRAM"] == "inference.py"
    root = hosting_root(tmp_path, model_archive)
    _, pre_root, _ = preprocess_job
    (test_file,) = sorted(container_path(pre_root, processing_output(prod.step("Preprocess"), "test")).glob("*"))
    rows = np.loadtxt(test_file, delimiter=",", ndmin=2)[:5, 1:]  # label first: the endpoint gets features only
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in rows)
    report = serve_and_probe(sandboxed, root, environment, [
        {"body": body, "content_type": "text/csv", "accept": "application/json"}], tmp_path)
    assert report["ping"] == 200, report["log"]
    (response,) = report["responses"]
    assert response["status"] == 200 and response["content_type"].startswith("application/json"), response
    booster = xgb.Booster()
    booster.load_model(bytearray((root / "model" / "xgboost-model").read_bytes()))
    # The built-in algorithm's JSON shape: {"predictions": [{"score": s}, ...]}.
    scores = [p["score"] for p in json.loads(response["body"])["predictions"]]
    np.testing.assert_allclose(scores, booster.predict(xgb.DMatrix(rows)), atol=1e-6)


def test_serving_entry_cannot_start_from_code_on_s3(prod, sandboxed, model_archive, tmp_path):
    """The defect this proof exists for: a submit directory on S3 never loads in an isolated container."""
    root = hosting_root(tmp_path, model_archive)
    code_uri = prod.step("Preprocess")["Arguments"]["ProcessingInputs"][-1]["S3Input"]["S3Uri"]
    environment = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": code_uri,
                   "SAGEMAKER_REGION": prod.config.region}
    report = serve_and_probe(sandboxed, root, environment, [], tmp_path)
    assert report["ping"] is None and report["exit_code"] != 0
    assert "Could not connect" in report["log"] or "Unable to locate credentials" in report["log"], report["log"]
