"""GIVEN the real server (serve.py, two pre-forked workers) on 127.0.0.1 WHEN real clients call it
(the sagemaker SDK's serializers, boto3's InvokeEndpoint request) THEN it answers like xgboost,
refuses bad requests with a 4xx and a one-line reason, and keeps serving afterwards."""
from __future__ import annotations

import http.client
import io
import json

import boto3
import numpy as np
import pytest
import urllib3
import xgboost as xgb
from botocore.awsrequest import AWSResponse
from sagemaker.core.deserializers import CSVDeserializer, JSONDeserializer
from sagemaker.core.serializers import CSVSerializer, JSONSerializer, LibSVMSerializer, NumpySerializer
from serving_testkit import N_FEATURES, RunningServer, train, training_rows, write_model


def post(server, body, content_type, accept=None, connection=None):
    """One POST /invocations; reuses ``connection`` (keep-alive) when given."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    conn.request("POST", "/invocations", body=body, headers=headers)
    response = conn.getresponse()
    result = response.status, response.getheader("Content-Type"), response.read()
    if connection is None:
        conn.close()
    return result


@pytest.fixture(scope="module")
def rows():
    return training_rows(5, seed=21)


@pytest.fixture(scope="module")
def expected(rows, binary_booster):
    return binary_booster.predict(xgb.DMatrix(rows))


def test_ping_and_execution_parameters(server):
    assert server.get("/ping")[0] == 200
    status, body = server.get("/execution-parameters")
    assert status == 200
    assert json.loads(body) == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD",
                                "MaxPayloadInMB": 1}


@pytest.mark.parametrize("serializer", [CSVSerializer(), JSONSerializer(), NumpySerializer()])
def test_sagemaker_sdk_serializers_many_rows(server, rows, expected, serializer):
    body = serializer.serialize(rows)
    status, kind, answer = post(server, body, serializer.CONTENT_TYPE)
    assert (status, kind) == (200, "application/json")
    np.testing.assert_allclose(JSONDeserializer().deserialize(io.BytesIO(answer), kind)["predictions"],
                               expected, atol=1e-6)


@pytest.mark.parametrize("serializer", [CSVSerializer(), JSONSerializer(), NumpySerializer()])
def test_sagemaker_sdk_serializers_one_row_answered_as_csv(server, rows, expected, serializer):
    status, kind, answer = post(server, serializer.serialize(rows[0]), serializer.CONTENT_TYPE,
                                accept="text/csv")
    assert (status, kind) == (200, "text/csv")
    parsed = CSVDeserializer().deserialize(io.BytesIO(answer), kind)
    np.testing.assert_allclose(float(parsed[0][0]), expected[0], atol=1e-6)


def test_sdk_json_instances_and_libsvm(server, rows, expected):
    body = JSONSerializer().serialize({"instances": [{"features": r} for r in rows.tolist()]})
    status, _, answer = post(server, body, "application/json")
    assert status == 200
    np.testing.assert_allclose(json.loads(answer)["predictions"], expected, atol=1e-6)
    status, _, answer = post(server, LibSVMSerializer().serialize("0 1:0.5 7:-2\n"), "text/libsvm")
    assert status == 200 and len(json.loads(answer)["predictions"]) == 1


def test_pandas_dataframe_through_csv_serializer(server, rows, expected):
    import pandas as pd

    body = CSVSerializer().serialize(pd.DataFrame(rows))  # NaN -> empty cells, trailing newline
    status, _, answer = post(server, body, "text/csv; charset=utf-8")
    assert status == 200
    np.testing.assert_allclose(json.loads(answer)["predictions"], expected, atol=1e-6)


def test_boto3_invoke_endpoint_request(server, rows, binary_booster):
    # GIVEN boto3's own InvokeEndpoint request, redirected to the local server at send time
    client = boto3.client("sagemaker-runtime", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    sent = {}

    def to_local_server(request, **_):
        sent.update(headers=dict(request.headers), body=request.body)
        status, kind, answer = post(server, request.body, request.headers["Content-Type"],
                                    request.headers.get("Accept"))
        raw = urllib3.HTTPResponse(body=io.BytesIO(answer), status=status, preload_content=False,
                                   headers={"Content-Type": kind, "Content-Length": str(len(answer))})
        return AWSResponse(request.url, status, raw.headers, raw)

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", to_local_server)
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in np.nan_to_num(rows[:2]))
    # WHEN invoked as an application would
    response = client.invoke_endpoint(EndpointName="xgb", Body=body.encode(),
                                      ContentType="text/csv", Accept="application/json")
    # THEN boto3 parses our answer
    assert response["ContentType"] == "application/json"
    predictions = json.loads(response["Body"].read())["predictions"]
    expected = binary_booster.predict(xgb.DMatrix(np.nan_to_num(rows[:2])))
    np.testing.assert_allclose(predictions, expected, atol=1e-6)
    assert sent["body"] == body.encode()  # what boto3 put on the wire is what we parsed


@pytest.mark.parametrize(("body", "content_type", "status", "reason"), [
    ("1,2,3", "text/csv", 400, b"row 1 has 3 columns, expected 12"),
    (",".join(["x"] * N_FEATURES), "text/csv", 400, b"'x' is not a number"),
    ("", "text/csv", 400, b"empty request body"),
    ("{}", "application/json", 400, b"needs \"instances\" or \"features\""),
    ("1,2", "application/octet-stream", 415, b"unsupported content type"),
])
def test_bad_requests_get_a_4xx_and_the_connection_keeps_serving(server, rows, body, content_type,
                                                                 status, reason):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    got, kind, answer = post(server, body, content_type, connection=connection)
    assert got == status and reason in answer and answer.count(b"\n") == 1
    # the same keep-alive connection, then a new one, still get predictions
    assert post(server, CSVSerializer().serialize(rows[0]), "text/csv", connection=connection)[0] == 200
    assert post(server, CSVSerializer().serialize(rows[0]), "text/csv")[0] == 200
    connection.close()


def test_oversized_payload_is_413_and_server_stays_up(server, rows):
    big = ("1," * (N_FEATURES - 1) + "1\n") * 60_000  # ~1.5 MB against a 1 MB limit
    status, _, answer = post(server, big, "text/csv")
    assert status == 413 and b"SAGEMAKER_MAX_PAYLOAD_IN_MB" in answer
    assert post(server, CSVSerializer().serialize(rows), "text/csv")[0] == 200


def test_unacceptable_accept_is_406(server, rows):
    status, _, answer = post(server, CSVSerializer().serialize(rows[0]), "text/csv", accept="image/png")
    assert status == 406 and b"accept one of" in answer


def test_unknown_path_is_404(server):
    assert server.get("/nope")[0] == 404


def test_a_broken_model_is_a_5xx_and_ping_is_never_200(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "xgboost-model").write_bytes(b"not a model")
    broken = RunningServer(tmp_path, workers=1)
    try:
        broken.wait_until(500, in_a_row=3)
        status, _, answer = post(broken, "1", "text/csv")
        assert status == 500 and b"model failed to load" in answer
    finally:
        broken.stop()


def test_multiclass_model_returns_class_probabilities(tmp_path):
    booster = train("multi:softprob", rounds=10)
    write_model(tmp_path / "model", booster)
    running = RunningServer(tmp_path, workers=1)
    try:
        running.wait_until(200, in_a_row=3)
        rows = training_rows(3, seed=30)
        status, _, answer = post(running, NumpySerializer().serialize(rows), "application/x-npy",
                                 accept="text/csv")
        assert status == 200
        got = np.loadtxt(answer.decode().splitlines(), delimiter=",")
        np.testing.assert_allclose(got, booster.predict(xgb.DMatrix(rows)), atol=1e-6)
    finally:
        running.stop()

