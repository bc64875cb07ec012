"""GIVEN the script-mode handlers the AWS XGBoost container calls WHEN fed request bodies as the
container passes them (str for CSV/JSON, bytes otherwise) THEN they predict, or raise an error
carrying a 4xx status that the container's toolkit sends back to the client."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import xgboost as xgb
from serving_testkit import N_FEATURES, training_rows

import inference
import serving_output as output


@pytest.fixture(scope="module")
def model(model_root):
    return inference.model_fn(str(model_root / "model"))


def run(model, body, content_type, accept="application/json"):
    data = inference.input_fn(body, content_type)
    return inference.output_fn(inference.predict_fn(data, model), accept)


def scores(body: bytes) -> list:
    return [item["score"] for item in json.loads(body)["predictions"]]


def test_csv_rows_predict_like_xgboost(model, binary_booster):
    rows = training_rows(3, seed=11)
    text = "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in rows)
    body, kind = run(model, text, "text/csv")
    assert kind == "application/json"
    np.testing.assert_allclose(scores(body), binary_booster.predict(xgb.DMatrix(rows)), atol=1e-6)


@pytest.mark.parametrize("payload", [
    {"instances": [[0.5] * N_FEATURES, [1.5] * N_FEATURES]},
    {"instances": [{"features": [0.5] * N_FEATURES}, {"features": [1.5] * N_FEATURES}]},
    [[0.5] * N_FEATURES, [1.5] * N_FEATURES],
])
def test_json_shapes_give_one_prediction_per_row(model, binary_booster, payload):
    body, _ = run(model, json.dumps(payload), "application/json; charset=utf-8")
    expected = binary_booster.predict(xgb.DMatrix(np.array([[0.5] * N_FEATURES, [1.5] * N_FEATURES])))
    np.testing.assert_allclose(scores(body), expected, atol=1e-6)


@pytest.mark.parametrize("payload", [{"features": [0.5] * N_FEATURES}, [0.5] * N_FEATURES])
def test_single_json_row(model, payload):
    body, _ = run(model, json.dumps(payload), "application/json")
    assert len(scores(body)) == 1


def test_npy_and_libsvm_bodies_arrive_as_bytes(model, binary_booster):
    rows = training_rows(4, seed=12)
    buffer = io.BytesIO()
    np.save(buffer, rows)
    body, kind = run(model, buffer.getvalue(), "application/x-npy", accept="text/csv")
    assert kind == "text/csv; charset=utf-8"
    expected = binary_booster.predict(xgb.DMatrix(rows))
    np.testing.assert_allclose(np.loadtxt(io.BytesIO(body), delimiter=","), expected, atol=1e-6)
    libsvm = "1 0:0.5 3:-1.25\n0 2:2.0\n".encode()
    body, _ = run(model, libsvm, "text/libsvm")
    dense = np.full((2, N_FEATURES), np.nan, np.float32)
    dense[0, 0], dense[0, 3], dense[1, 2] = 0.5, -1.25, 2.0
    np.testing.assert_allclose(scores(body), binary_booster.predict(xgb.DMatrix(dense)), atol=1e-6)


@pytest.mark.parametrize(("body", "content_type", "status", "reason"), [
    ("1,2,3", "text/csv", 400, "row 1 has 3 columns, expected 12"),
    (",".join(["1"] * 11 + ["abc"]), "text/csv", 400, "column 12: 'abc' is not a number"),
    ("[1, 2", "application/json", 400, "malformed JSON"),
    ('{"rows": []}', "application/json", 400, '"instances" or "features"'),
    (b"\x00\x01", "application/x-npy", 400, "not a .npy array"),
    ("a,b", "image/png", 415, "unsupported content type 'image/png'"),
    (",".join(["1e39"] * 12), "text/csv", 400, "beyond float32 range"),
])
def test_bad_requests_raise_the_toolkit_error_with_a_4xx(model, body, content_type, status, reason):
    with pytest.raises(inference.BaseInferenceToolkitError) as caught:
        inference.input_fn(body, content_type)
    assert caught.value.status_code == status
    assert reason in caught.value.message and "\n" not in caught.value.message


def test_empty_body_raises_the_toolkit_error_with_204_like_the_builtin(model):
    with pytest.raises(inference.BaseInferenceToolkitError) as caught:
        inference.input_fn("", "text/csv")
    assert caught.value.status_code == 204


def test_unanswerable_accept_is_406(model):
    with pytest.raises(inference.BadRequest) as caught:
        inference.output_fn(np.array([0.5], np.float32), "image/png")
    assert caught.value.status_code == 406


def test_missing_model_file_fails_model_fn(tmp_path):
    with pytest.raises(Exception, match="no xgboost-model"):
        inference.model_fn(str(tmp_path))


def test_accept_negotiation():
    assert output.choose_accept("text/csv, application/json;q=0.5") == "text/csv"
    assert output.choose_accept("*/*", default="application/json") == "application/json"
    assert output.choose_accept(None) == "text/csv"  # the built-in's default
    assert output.choose_accept("application/json; charset=utf-8") == "application/json"
    assert output.choose_accept("json") == "application/json"
