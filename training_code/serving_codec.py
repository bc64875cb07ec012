"""Request decoding and response encoding for the model server and the script-mode handlers.

Bodies go straight from bytes to a float32 matrix [rows, n_features] (NaN = missing): no pandas,
no csv.Sniffer, no DMatrix. CSV is parsed in one C pass when the compiled library is available
(serving_compiled), else by numpy; both give the same floats. Every problem with a request raises ``RequestError`` carrying an HTTP
status and a one-line reason; nothing here can fail because of the model.
"""
from __future__ import annotations

import io
import json

import numpy as np

from recordio_protobuf import RecordIOError, read_rows
from serving_compiled import COLUMNS_ERROR, CsvError, csv_parser

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
LIBSVM = "text/libsvm"
RECORDIO = "application/x-recordio-protobuf"
SUPPORTED_REQUEST_TYPES = (CSV, LIBSVM, RECORDIO, JSON, NPY)
# Short names and aliases clients send (TrainingInput(content_type="csv") habits, the built-in's).
_ALIASES = {"csv": CSV, "libsvm": LIBSVM, "text/x-libsvm": LIBSVM, "json": JSON,
            "application/x-libsvm": LIBSVM, "recordio-protobuf": RECORDIO}
# The built-in sniffs the first line; these are the delimiters it can meet in practice.
_DELIMITERS = (b",", b"\t", b";", b"|")
# Text bodies are parsed as ASCII digits; any charset that keeps ASCII as ASCII is fine.
_ASCII_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1"}
_native_csv = csv_parser()


class RequestError(ValueError):
    """A request the server must refuse with ``status`` (4xx) and a one-line ``reason``."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = " ".join(str(reason).split())  # one line, whatever the source said


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type/Accept item into a lower-case media type and its parameters."""
    parts = (header or "").split(";")
    params = {}
    for item in parts[1:]:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    kind = parts[0].strip().lower()
    return _ALIASES.get(kind, kind), params


def is_empty(body: bytes | str) -> bool:
    """An empty (or whitespace-only) body: the built-in answers 204 No Content to it."""
    return not body or not body.strip()


def decode(body: bytes | str, content_type: str | None, n_features: int) -> np.ndarray:
    """Parse a request body into float32 rows of exactly ``n_features`` columns.

    No Content-Type means CSV, as in the built-in algorithm's server.
    """
    kind, params = media_type(content_type or CSV)
    charset = params.get("charset", "utf-8")
    if charset not in _ASCII_CHARSETS:
        raise RequestError(415, f"unsupported charset {charset!r}; send utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if is_empty(body):
        raise RequestError(400, "empty request body")
    if kind == CSV:
        rows = csv_rows(body, n_features)
    elif kind == LIBSVM:
        rows = _libsvm_rows(body, n_features)
    elif kind == RECORDIO:
        try:  # a sparse record's absent features are missing values, as in the built-in
            rows, _ = read_rows(body, require_label=False, absent=np.nan)
        except RecordIOError as error:
            raise RequestError(400, f"bad RecordIO-protobuf body: {error}") from None
        if rows.size == 0:
            raise RequestError(400, "bad RecordIO-protobuf body: no records")
    elif kind == JSON:
        rows = _json_rows(body)
    elif kind == NPY:
        rows = _npy_rows(body)
    else:
        raise RequestError(415, f"unsupported content type {kind or '(none)'!r}; "
                                f"use one of {', '.join(SUPPORTED_REQUEST_TYPES)}")
    return _check_shape(rows, n_features)


def _delimiter(body: bytes) -> bytes:
    end = body.find(b"\n")
    first = body[:end] if end >= 0 else body
    return next((d for d in _DELIMITERS if d in first), b",")


def csv_rows(body: bytes, n_features: int, *, native: bool = True) -> np.ndarray:
    """CSV without header, one row per line; ',', tab, ';' or '|' delimited; empty cell = missing."""
    body = body.strip()
    delimiter = _delimiter(body)
    if native and _native_csv is not None:
        try:
            return _native_csv(body, delimiter, n_features)
        except CsvError as error:
            line = body.split(b"\n")[error.row]
            if error.kind == COLUMNS_ERROR:
                raise RequestError(400, _columns_reason(error.row, error.column, n_features)) from None
            token = line.split(delimiter)[error.column].strip()
            raise RequestError(400, _cell_reason(error.row, error.column, token)) from None
    lines = body.splitlines()
    expected = n_features - 1
    for number, line in enumerate(lines):
        if line.count(delimiter) != expected:  # cheap per-line check, so the reason names the row
            columns = line.count(delimiter) + 1 if line.strip() else 0
            raise RequestError(400, _columns_reason(number, columns, n_features))
    tokens = delimiter.join(lines).split(delimiter)
    if b"" in tokens or any(not t.strip() for t in tokens):  # an empty cell is a missing value
        tokens = [t if t.strip() else b"nan" for t in tokens]
    try:
        if b"_" in body:  # Python's float() reads '1_0' as 10; a CSV reader must not
            raise ValueError
        with np.errstate(over="ignore"):  # out-of-range numbers become inf, refused below
            values = np.array(tokens, dtype=np.float32)
    except ValueError:
        raise RequestError(400, _first_bad_token(tokens, n_features)) from None
    return values.reshape(len(lines), n_features)


def _columns_reason(row: int, columns: int, n_features: int) -> str:
    return (f"row {row + 1} has {columns} columns, expected {n_features} "
            "(CSV without header, one row per line)")


def _cell_reason(row: int, column: int, token: bytes) -> str:
    shown = token.decode("utf-8", "replace")[:40]
    return f"row {row + 1}, column {column + 1}: {shown!r} is not a number"


def _first_bad_token(tokens: list[bytes], n_features: int) -> str:
    for index, token in enumerate(tokens):
        try:
            if b"_" in token:
                raise ValueError
            float(token)
        except ValueError:
            return _cell_reason(*divmod(index, n_features), token.strip())
    return "a value is not a number"


def _json_rows(body: bytes) -> np.ndarray:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise RequestError(400, f"malformed JSON: {error}") from None
    if isinstance(payload, dict):
        if "instances" in payload:
            payload = payload["instances"]
        elif "features" in payload:
            payload = [payload["features"]]
        else:
            raise RequestError(400, 'JSON object needs "instances" or "features"')
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        try:
            payload = [item["features"] for item in payload]
        except (KeyError, TypeError):
            raise RequestError(400, 'each instance object needs "features"') from None
    if not isinstance(payload, list) or not payload:
        raise RequestError(400, "JSON holds no rows")
    if not isinstance(payload[0], list):
        payload = [payload]  # a single flat row
    try:
        # None becomes NaN (missing), as in xgboost's own JSON handling.
        return np.array(payload, dtype=np.float32)
    except (ValueError, TypeError):
        lengths = {len(row) if isinstance(row, list) else -1 for row in payload}
        if len(lengths) > 1:
            raise RequestError(400, "rows have different lengths") from None
        raise RequestError(400, "a value is not a number") from None


def _npy_rows(body: bytes) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise RequestError(400, f"not a .npy array: {error}") from None
    if array.dtype.kind not in "fiub":
        raise RequestError(400, f"npy dtype {array.dtype} is not numeric")
    if array.ndim == 1:
        array = array[None, :]
    return array.astype(np.float32, copy=False)


def _libsvm_rows(body: bytes, n_features: int) -> np.ndarray:
    lines = body.strip().splitlines()
    rows = np.full((len(lines), n_features), np.nan, dtype=np.float32)
    for number, line in enumerate(lines):
        items = line.split()
        if items and b":" not in items[0]:
            items = items[1:]  # a leading label, ignored at inference
        try:
            pairs = [item.split(b":") for item in items]
            index = np.array([int(p[0]) for p in pairs], dtype=np.int64)
            value = np.array([float(p[1]) for p in pairs], dtype=np.float32)
        except (ValueError, IndexError):
            raise RequestError(400, f"row {number + 1}: expected index:value pairs") from None
        if index.size and (index.min() < 0 or index.max() >= n_features):
            raise RequestError(400, f"row {number + 1}: feature index out of range 0..{n_features - 1}")
        rows[number, index] = value
    return rows


def _check_shape(rows: np.ndarray, n_features: int) -> np.ndarray:
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise RequestError(400, f"expected rows of {n_features} values, got shape {rows.shape}")
    if rows.shape[1] != n_features:
        raise RequestError(400, f"rows have {rows.shape[1]} columns, expected {n_features}")
    if np.isinf(rows).any():  # xgboost's DMatrix refuses inf too; NaN stays "missing"
        raise RequestError(400, "infinite value or one beyond float32 range")
    return rows
