"""GIVEN the real server (serve.py, two pre-forked workers) on 127.0.0.1 WHEN real clients call it
(the sagemaker SDK's serializers and deserializers, boto3's InvokeEndpoint request) THEN it answers
as the built-in XGBoost algorithm does, refuses bad requests with a 4xx and a one-line reason, and
keeps serving afterwards."""
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
from recordio_client import dense_body, sparse_body
from sagemaker.core.deserializers import CSVDeserializer, JSONDeserializer, JSONLinesDeserializer
from sagemaker.core.serializers import (
    CSVSerializer,
    JSONSerializer,
    LibSVMSerializer,
    NumpySerializer,
    RecordSerializer,
)
from serving_testkit import N_FEATURES, RunningServer, train, training_rows, write_model

CSV_TYPE = "text/csv; charset=utf-8"


class RecordBodies:
    """The SDK's RecordSerializer content type, with the v2 SDK's bytes (see recordio_client)."""

    CONTENT_TYPE = RecordSerializer().CONTENT_TYPE

    def serialize(self, rows):
        return dense_body(rows)


def body_of(serialized):
    return serialized.getvalue() if isinstance(serialized, io.BytesIO) else serialized


def scores(answer: bytes) -> list:
    return [item["score"] for item in JSONDeserializer().deserialize(io.BytesIO(answer),
                                                                     "application/json")["predictions"]]


@pytest.fixture(scope="module")
def rows():
    return training_rows(5, seed=21)


@pytest.fixture(scope="module")
def expected(rows, binary_booster):
    return binary_booster.predict(xgb.DMatrix(rows))


def test_ping_head_ping_and_execution_parameters(server):
    assert server.get("/ping")[0] == 200
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("HEAD", "/ping")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"")
    status, body = server.get("/execution-parameters")
    assert status == 200
    assert json.loads(body) == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD",
                                "MaxPayloadInMB": 1}


@pytest.mark.parametrize("serializer", [CSVSerializer(), JSONSerializer(), NumpySerializer(),
                                        RecordBodies()])
def test_sdk_serializers_with_json_answers_shaped_like_the_builtin(server, rows, expected,
                                                                   serializer):
    # GIVEN rows serialized by the SDK WHEN the client accepts JSON
    status, kind, answer = server.post(body_of(serializer.serialize(rows)), serializer.CONTENT_TYPE,
                                       accept="application/json")
    # THEN the answer is {"predictions": [{"score": p}, ...]}, as the built-in answers
    assert (status, kind) == (200, "application/json")
    np.testing.assert_allclose(scores(answer), expected, atol=1e-6)


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_no_accept_answers_csv_on_one_line_like_the_builtin(server, rows, expected, accept):
    status, kind, answer = server.post(CSVSerializer().serialize(rows), "text/csv", accept=accept)
    assert (status, kind) == (200, CSV_TYPE)
    parsed = CSVDeserializer().deserialize(io.BytesIO(answer), kind)
    assert len(parsed) == 1  # the built-in joins a request's predictions with commas
    np.testing.assert_allclose([float(v) for v in parsed[0]], expected, atol=1e-6)


def test_json_lines_answer_one_object_per_record(server, rows, expected):
    status, kind, answer = server.post(CSVSerializer().serialize(rows), "text/csv",
                                       accept="application/jsonlines")
    assert (status, kind) == (200, "application/jsonlines")
    records = JSONLinesDeserializer().deserialize(io.BytesIO(answer), kind)
    np.testing.assert_allclose([r["score"] for r in records], expected, atol=1e-6)


@pytest.mark.parametrize(("delimiter", "content_type"), [
    (";", "text/csv"), ("\t", "text/csv"), (",", "csv"), (",", None)])
def test_delimiters_short_names_and_missing_content_type_read_as_csv(server, rows, expected,
                                                                     delimiter, content_type):
    body = "\n".join(delimiter.join("" if np.isnan(v) else repr(float(v)) for v in row)
                     for row in rows)
    status, _, answer = server.post(body, content_type, accept="application/json")
    assert status == 200, answer
    np.testing.assert_allclose(scores(answer), expected, atol=1e-6)


@pytest.mark.parametrize("content_type", ["text/libsvm", "libsvm", "text/x-libsvm"])
def test_libsvm_by_every_name(server, binary_booster, content_type):
    status, _, answer = server.post(LibSVMSerializer().serialize("0 1:0.5 7:-2\n"), content_type,
                                    accept="application/json")
    dense = np.full((1, N_FEATURES), np.nan, np.float32)
    dense[0, 1], dense[0, 7] = 0.5, -2
    assert status == 200
    np.testing.assert_allclose(scores(answer), binary_booster.predict(xgb.DMatrix(dense)), atol=1e-6)


def test_sparse_recordio_records_leave_absent_features_missing(server, binary_booster):
    body = sparse_body([{0: 0.5, 3: -1.25}, {2: 2.0}], N_FEATURES)
    status, _, answer = server.post(body, "application/x-recordio-protobuf", accept="application/json")
    dense = np.full((2, N_FEATURES), np.nan, np.float32)
    dense[0, 0], dense[0, 3], dense[1, 2] = 0.5, -1.25, 2.0
    assert status == 200, answer
    np.testing.assert_allclose(scores(answer), binary_booster.predict(xgb.DMatrix(dense)), atol=1e-6)


def test_sdk_json_instances_and_pandas_through_csv_serializer(server, rows, expected):
    import pandas as pd

    body = JSONSerializer().serialize({"instances": [{"features": r} for r in rows.tolist()]})
    status, _, answer = server.post(body, "application/json", accept="application/json")
    assert status == 200
    np.testing.assert_allclose(scores(answer), expected, atol=1e-6)
    body = CSVSerializer().serialize(pd.DataFrame(rows))  # NaN -> empty cells, trailing newline
    status, _, answer = server.post(body, "text/csv; charset=utf-8", accept="application/json")
    np.testing.assert_allclose(scores(answer), expected, atol=1e-6)


def test_empty_body_is_204_like_the_builtin(server):
    status, kind, answer = server.post(b"", "text/csv")
    assert (status, answer) == (204, b"")


def test_boto3_invoke_endpoint_request(server, rows, binary_booster):
    # GIVEN boto3's own InvokeEndpoint request, redirected to the local server at send time
    client = boto3.client("sagemaker-runtime", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    sent = {}

    def to_local_server(request, **_):
        sent.update(headers=dict(request.headers), body=request.body)
        status, kind, answer = server.post(request.body, request.headers["Content-Type"],
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
    expected = binary_booster.predict(xgb.DMatrix(np.nan_to_num(rows[:2])))
    np.testing.assert_allclose(scores(response["Body"].read()), expected, atol=1e-6)
    assert sent["body"] == body.encode()  # what boto3 put on the wire is what we parsed


@pytest.mark.parametrize(("body", "content_type", "status", "reason"), [
    ("1,2,3", "text/csv", 400, b"row 1 has 3 columns, expected 12"),
    (",".join(["x"] * N_FEATURES), "text/csv", 400, b"'x' is not a number"),
    ("{}", "application/json", 400, b"needs \"instances\" or \"features\""),
    ("1,2", "application/octet-stream", 415, b"unsupported content type"),
    (b"\x0a\x23\xd7\xce\x00", "application/x-recordio-protobuf", 400, b"bad RecordIO-protobuf body"),
])
def test_bad_requests_get_a_4xx_and_the_connection_keeps_serving(server, rows, body, content_type,
                                                                 status, reason):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    got, kind, answer = server.post(body, content_type, connection=connection)
    assert got == status and reason in answer and answer.count(b"\n") == 1, answer
    assert kind == "text/plain; charset=utf-8"
    # the same keep-alive connection, then a new one, still get predictions
    one_row = CSVSerializer().serialize(rows[0])
    assert server.post(one_row, "text/csv", connection=connection)[0] == 200
    assert server.post(one_row, "text/csv")[0] == 200
    connection.close()


def test_oversized_payload_is_413_and_server_stays_up(server, rows):
    big = ("1," * (N_FEATURES - 1) + "1\n") * 60_000  # ~1.5 MB against a 1 MB limit
    status, _, answer = server.post(big, "text/csv")
    assert status == 413 and b"SAGEMAKER_MAX_PAYLOAD_IN_MB" in answer
    assert server.post(CSVSerializer().serialize(rows), "text/csv")[0] == 200


def test_unacceptable_accept_is_406(server, rows):
    status, _, answer = server.post(CSVSerializer().serialize(rows[0]), "text/csv", accept="image/png")
    assert status == 406 and b"accept one of" in answer


def test_unknown_path_is_404_and_wrong_method_is_405(server):
    assert server.get("/nope")[0] == 404
    status, body = server.get("/invocations")
    assert status == 405 and b"use POST" in body


def test_a_broken_model_is_a_5xx_and_ping_is_never_200(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "xgboost-model").write_bytes(b"not a model")
    broken = RunningServer(tmp_path, workers=1)
    try:
        broken.wait_until(500, in_a_row=3)
        status, _, answer = broken.post("1", "text/csv")
        assert status == 500 and b"model failed to load" in answer
    finally:
        broken.stop()


def test_multiclass_model_answers_class_probabilities(tmp_path):
    booster = train("multi:softprob", rounds=10)
    write_model(tmp_path / "model", booster)
    running = RunningServer(tmp_path, workers=1)
    try:
        running.wait_until(200, in_a_row=3)
        rows = training_rows(3, seed=30)
        expected = booster.predict(xgb.DMatrix(rows))
        body = NumpySerializer().serialize(rows)
        status, _, answer = running.post(body, "application/x-npy", accept="application/json")
        assert status == 200  # softprob: {"score": [p0, p1, ...]} per record
        np.testing.assert_allclose(scores(answer), expected, atol=1e-6)
        status, _, answer = running.post(body, "application/x-npy", accept="text/csv")
        got = np.loadtxt(answer.decode().splitlines(), delimiter=",")
        np.testing.assert_allclose(got, expected, atol=1e-6)
    finally:
        running.stop()
