"""Reading data capture as SageMaker writes it: every encoding, and malformed lines counted with
their reason while their neighbours are kept."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from monitoring_testkit import capture_record, sample, score, write_capture

from monitoring.capture import capture_files, parse_time, read_window

NAMES = [f"_c{i}" for i in range(6)]


@pytest.mark.parametrize("kwargs", [{"encoding": "CSV"}, {"encoding": "BASE64"},
                                    {"request_type": "application/json"},
                                    {"request_type": "application/json", "encoding": "BASE64"}],
                         ids=["csv", "csv-base64", "json", "json-base64"])
def test_every_capture_encoding_yields_the_same_rows(tmp_path, kwargs):
    x = sample(50, seed=1)
    write_capture(tmp_path, x, score(x), per_file=20, **kwargs)
    window = read_window(capture_files(tmp_path), NAMES)
    assert window.records_read == window.records_used == 50 and window.malformed_records == 0
    values = np.column_stack([c.values for c in window.columns()])
    np.testing.assert_allclose(values, x, rtol=1e-12)
    np.testing.assert_allclose(window.predictions, score(x), rtol=1e-12)


def test_a_request_with_several_rows_gives_one_observation_per_row(tmp_path):
    record = capture_record([0] * 6, 0.0, 1)
    record["captureData"]["endpointInput"]["data"] = "1,2,3,4,5,6\n7,8,9,10,11,12"
    record["captureData"]["endpointOutput"]["data"] = json.dumps({"predictions": [0.1, 0.9]})
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n")
    window = read_window(capture_files(tmp_path), NAMES)
    assert window.rows == 2
    np.testing.assert_array_equal(np.column_stack([c.values for c in window.columns()]),
                                  np.arange(1, 13, dtype=float).reshape(2, 6))
    assert window.predictions == [0.1, 0.9]
    assert window.keys == [("00000000-0000-0000-0000-000000000001", 0), ("00000000-0000-0000-0000-000000000001", 1)]


def _bad_lines() -> dict[str, str]:
    good = capture_record([1.0] * 6, 0.5, 9)
    wrong_width = json.loads(json.dumps(good))
    wrong_width["captureData"]["endpointInput"]["data"] = "1,2,3"
    bad_b64 = json.loads(json.dumps(good))
    bad_b64["captureData"]["endpointInput"].update(encoding="BASE64", data="%%%not-base64")
    mismatch = json.loads(json.dumps(good))
    mismatch["captureData"]["endpointOutput"]["data"] = json.dumps({"predictions": [0.1, 0.2]})
    unknown_type = json.loads(json.dumps(good))
    unknown_type["captureData"]["endpointInput"]["observedContentType"] = "image/png"
    return {"truncated": json.dumps(good)[:-30], "no capture": json.dumps({"eventVersion": "0"}),
            "width": json.dumps(wrong_width), "base64": json.dumps(bad_b64), "mismatch": json.dumps(mismatch),
            "content type": json.dumps(unknown_type)}


def test_malformed_lines_are_counted_by_reason_and_never_drop_their_neighbours(tmp_path):
    x = sample(10, seed=2)
    good = [json.dumps(capture_record(x[i], 0.5, i)) for i in range(10)]
    bad = list(_bad_lines().values())
    lines = [line for pair in zip(good, bad + [""] * 4, strict=False) for line in pair if line]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    window = read_window(capture_files(tmp_path), NAMES)
    assert window.records_read == 16 and window.records_used == 10 and window.malformed_records == 6
    assert sorted(window.malformed) == sorted([
        "not a capture record (JSON with captureData.endpointInput)", "column count differs from the baseline",
        "invalid base64 or non-UTF-8 body", "response rows differ from request rows",
        "unsupported request content type"])
    assert window.malformed["not a capture record (JSON with captureData.endpointInput)"] == 2
    assert window.examples[0].startswith("mixed.jsonl:2: not a capture record")
    np.testing.assert_allclose(np.column_stack([c.values for c in window.columns()]), x)


def test_records_outside_the_window_are_skipped_by_inference_time(tmp_path):
    x = sample(4, seed=3)
    times = ["2026-12-01T19:59:59Z", "2026-12-01T20:00:00Z", "2026-12-01T20:59:59.999Z", "2026-12-01T21:00:00Z"]
    (tmp_path / "t.jsonl").write_text("".join(
        json.dumps(capture_record(x[i], 0.5, i, time=t)) + "\n" for i, t in enumerate(times)))
    window = read_window(capture_files(tmp_path), NAMES, since=parse_time("2026-12-01T20:00:00Z"),
                         until=parse_time("2026-12-01T21:00:00Z"))
    assert window.records_used == 2 and window.records_outside_window == 2


def test_base64_capture_of_a_non_utf8_body_is_refused_not_fatal(tmp_path):
    record = capture_record([1.0] * 6, 0.5, 1, encoding="BASE64")
    record["captureData"]["endpointInput"]["data"] = base64.b64encode(b"\xff\xfe,1").decode()
    (tmp_path / "x.jsonl").write_text(json.dumps(record) + "\n")
    window = read_window(capture_files(tmp_path), NAMES)
    assert window.malformed == {"invalid base64 or non-UTF-8 body": 1}


def test_parallel_reading_gives_the_same_window_as_one_process(tmp_path):
    x = sample(900, seed=4)
    write_capture(tmp_path, x, score(x), per_file=100)
    with open(next(tmp_path.rglob("*00000300.jsonl")), "a") as handle:
        handle.write("{broken\n")
    one = read_window(capture_files(tmp_path), NAMES, workers=1)
    three = read_window(capture_files(tmp_path), NAMES, workers=3)
    assert (three.records_read, three.records_used, three.malformed) == (one.records_read, one.records_used, one.malformed)
    assert three.keys == one.keys and three.predictions == one.predictions
    np.testing.assert_array_equal(np.column_stack([c.values for c in three.columns()]),
                                  np.column_stack([c.values for c in one.columns()]))


@pytest.mark.parametrize("content_type, body, expected", [
    ("application/json", '{"predictions": [0.25, 0.75]}', [0.25, 0.75]),
    ("application/json", '{"predictions": [{"score": 0.25}, {"score": 0.75}]}', [0.25, 0.75]),
    ("application/json", '{"predictions": [{"score": [0.1, 0.7, 0.2]}, {"score": [0.8, 0.1, 0.1]}]}', [1.0, 0.0]),
    ("application/jsonlines", '{"score": 0.25}\n{"score": 0.75}\n', [0.25, 0.75]),
    ("text/csv; charset=utf-8", "0.25,0.75", [0.25, 0.75]),
    ("text/csv", "0.25\n0.75\n", [0.25, 0.75]),
], ids=["ours-json", "builtin-json", "builtin-softprob", "jsonlines", "builtin-csv-one-line", "csv-lines"])
def test_responses_of_our_server_and_the_builtin_container_give_one_score_per_row(tmp_path, content_type, body, expected):
    record = capture_record([0] * 6, 0.0, 1)
    record["captureData"]["endpointInput"]["data"] = "1,2,3,4,5,6\n7,8,9,10,11,12"
    record["captureData"]["endpointOutput"].update(observedContentType=content_type, data=body,
                                                   encoding="CSV" if "csv" in content_type else "JSON")
    (tmp_path / "a.jsonl").write_text(json.dumps(record) + "\n")
    assert read_window(capture_files(tmp_path), NAMES).predictions == expected
