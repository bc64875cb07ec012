"""GIVEN our inference.py served as the AWS XGBoost framework container serves a script-mode model
(SAGEMAKER_PROGRAM=inference.py from <model>/code, under the real sagemaker-inference toolkit and
Multi Model Server from PyPI, in their own venv) WHEN clients send good and malformed requests
THEN predictions come back as the built-in shapes them, and every client mistake is a 4xx with our
one-line reason as the status phrase and the body's first line: never the toolkit's 500.

Malformed JSON is not among the cases: MMS 1.1 decodes application/json bodies itself before the
toolkit sees them, and its worker dies on bad JSON (500 "Worker died.", whatever inference.py
does); TRAINING.md says so. Needs Java (MMS is a Java server) and the baseline venv, which bench/mms_stack.py builds with
pinned versions on first use (a few minutes, PyPI). Without Java the test is skipped, saying so.
"""
from __future__ import annotations

import http.client
import json
import re
import shutil
import sys

import numpy as np
import pytest
import xgboost as xgb
from sagemaker.core.serializers import CSVSerializer
from serving_testkit import CODE, N_FEATURES, training_rows

sys.path.insert(0, str(CODE.parent))
from bench.mms_stack import start_mms, stop  # noqa: E402
from ml_platform.constructs.training.serving_environment import serving_environment  # noqa: E402
from model_artifacts import write_code  # noqa: E402

# The toolkit's own wiring, as the framework container's handler service does it: the default
# handler service and transformer, the user module (ours) found through SAGEMAKER_PROGRAM.
HANDLER = """
from sagemaker_inference.default_handler_service import DefaultHandlerService
from sagemaker_inference.default_inference_handler import DefaultInferenceHandler
from sagemaker_inference.transformer import Transformer

_service = DefaultHandlerService(transformer=Transformer(default_inference_handler=DefaultInferenceHandler()))


def handle(data, context):
    if data is None:
        return _service.initialize(context)
    for item in data:  # MMS 1.1 hands text bodies over as str; the toolkit wants bytes
        if isinstance(item.get("body"), str):
            item["body"] = item["body"].encode()
    return _service.handle(data, context)
"""


@pytest.fixture(scope="module")
def toolkit(tmp_path_factory, model_root):
    if not shutil.which("java"):
        pytest.skip("Multi Model Server needs Java (make test installs it)")
    root = tmp_path_factory.mktemp("toolkit")
    model = root / "model"
    shutil.copytree(model_root / "model", model)
    write_code(model)  # what train.py puts in code/: inference.py and the modules it imports
    # The environment the registered model's container gets (the code directory is local here).
    server, _ = start_mms(root, HANDLER, model, workers=1, env={
        **serving_environment("eu-west-1"), "SAGEMAKER_SUBMIT_DIRECTORY": str(model / "code"),
        # the container's model server puts <model>/code on the path of its workers
        "PYTHONPATH": str(root / "mms-store" / "model" / "code")})
    yield server
    stop(server)


def call(server, body, content_type="text/csv", accept=None):
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=60)
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    connection.request("POST", "/invocations", body=body, headers=headers)
    response = connection.getresponse()
    result = response.status, response.reason, response.getheader("Content-Type"), response.read()
    connection.close()
    return result


def test_a_request_without_accept_gets_csv_like_the_builtin(toolkit, binary_booster):
    # GIVEN the registered container's environment WHEN a client sends no Accept header
    rows = training_rows(2, seed=51)
    status, _, kind, body = call(toolkit, CSVSerializer().serialize(rows))
    # THEN the answer is CSV scores, as the built-in algorithm answers (the toolkit's own default is JSON)
    assert (status, kind.split(";")[0]) == (200, "text/csv"), body[:300]
    np.testing.assert_allclose([float(x) for x in re.split(r"[,\s]+", body.decode().strip())],
                               binary_booster.predict(xgb.DMatrix(rows)), atol=1e-6)


def test_predictions_come_back_shaped_like_the_builtin(toolkit, binary_booster):
    rows = training_rows(3, seed=50)
    status, _, kind, body = call(toolkit, CSVSerializer().serialize(rows), accept="application/json")
    assert (status, kind) == (200, "application/json"), body[:300]
    expected = binary_booster.predict(xgb.DMatrix(rows))
    np.testing.assert_allclose([p["score"] for p in json.loads(body)["predictions"]], expected,
                               atol=1e-6)


@pytest.mark.parametrize(("body", "content_type", "accept", "status", "reason"), [
    ("1,2,3", "text/csv", None, 400, "row 1 has 3 columns, expected 12"),
    (",".join(["x"] * N_FEATURES), "text/csv", None, 400, "'x' is not a number"),
    ("1,2", "image/png", None, 415, "unsupported content type 'image/png'"),
    (",".join(["1"] * N_FEATURES), "text/csv", "image/png", 406, "cannot answer as 'image/png'"),
], ids=["columns", "not-a-number", "content-type", "accept"])
def test_client_mistakes_are_4xx_with_our_one_line_reason(toolkit, body, content_type, accept,
                                                          status, reason):
    got, phrase, _, answer = call(toolkit, body, content_type, accept)
    assert got == status, answer[:300]
    assert reason in phrase  # the toolkit sends our reason as the status line's phrase
    assert reason in answer.decode().splitlines()[0]  # and as the first line of the body
