"""GIVEN request bodies as clients write them WHEN decoded by the compiled CSV parser and by the
numpy fallback THEN both give numpy's own float32 values and the same one-line reasons."""
from __future__ import annotations

import numpy as np
import pytest
from recordio_client import dense_body

import serving_codec as codec
from serving_compiled import csv_parser

PATHS = [pytest.param(True, id="compiled"), pytest.param(False, id="numpy")]


def test_the_compiled_parser_is_built_here():
    assert csv_parser() is not None  # else the "compiled" cases below test the fallback twice


@pytest.mark.parametrize("native", PATHS)
def test_every_float_format_parses_to_numpys_float32(native):
    # GIVEN numbers written every way a client writes them: repr, long, short, exponents, signs
    rng = np.random.default_rng(0)
    values = rng.normal(size=3000) * 10.0 ** rng.integers(-40, 40, 3000)
    tokens = ([repr(float(v)) for v in values] + [f"{v:.25g}" for v in values[:300]]
              + [f"{v:.2f}" for v in values[:300]] + [f"{v:+.4E}" for v in values[:300]]
              + ["1e39", "-1e-50", ".5", "5.", "007", "-0", "NaN", "-inf", "Infinity", " 3.25 "])
    body = ",".join(tokens).encode()
    # WHEN parsed THEN every value equals numpy's parse of the same text
    got = codec.csv_rows(body, len(tokens), native=native)[0]
    with np.errstate(over="ignore"):  # 1e39 is inf in float32, for numpy as for us
        expected = np.array([t.strip() for t in tokens], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_empty_cells_and_line_endings(native, delimiter):
    body = f"1{delimiter}{delimiter}3\r\n4{delimiter}nan{delimiter} 6\n\n".encode()
    rows = codec.csv_rows(body, 3, native=native)
    assert rows.dtype == np.float32 and rows.shape == (2, 3)
    np.testing.assert_array_equal(np.isnan(rows), [[False, True, False], [False, True, False]])
    assert rows[1, 2] == 6


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize(("body", "reason"), [
    (b"1,2,3\n\n4,5,6", "row 2 has 0 columns, expected 3"),
    (b"1,2,3\n4,5", "row 2 has 2 columns, expected 3"),
    (b"1,2,3\n4,abc,6", "row 2, column 2: 'abc' is not a number"),
    (b"1,0x10,3", "row 1, column 2: '0x10' is not a number"),
    (b"1,1_0,3", "row 1, column 2: '1_0' is not a number"),
    (b"1,--2,3", "row 1, column 2: '--2' is not a number"),
])
def test_bad_csv_gets_the_same_reason_on_both_paths(native, body, reason):
    with pytest.raises(codec.RequestError) as caught:
        codec.csv_rows(body, 3, native=native)
    assert reason in caught.value.reason


@pytest.mark.parametrize(("content_type", "kind"), [
    ("csv", codec.CSV), ("CSV", codec.CSV), (None, codec.CSV), ("libsvm", codec.LIBSVM),
    ("text/x-libsvm", codec.LIBSVM), ("application/x-recordio-protobuf", codec.RECORDIO)])
def test_short_names_and_no_content_type_decode(content_type, kind):
    bodies = {codec.CSV: b"1,2,3", codec.LIBSVM: b"0 0:1 1:2 2:3",
              codec.RECORDIO: dense_body(np.array([[1, 2, 3]], np.float32))}
    rows = codec.decode(bodies[kind], content_type, 3)
    np.testing.assert_array_equal(rows, [[1, 2, 3]])


def test_recordio_with_the_wrong_width_names_the_record():
    with pytest.raises(codec.RequestError, match="rows have 2 columns, expected 3"):
        codec.decode(dense_body(np.ones((1, 2), np.float32)), codec.RECORDIO, 3)
