"""Read SageMaker's RecordIO-protobuf (`application/x-recordio-protobuf`) into float32 rows.

The format, as the SageMaker developer guide documents it ("Common data formats for training",
the `aialgs.data.Record` schema): a stream of RecordIO frames (little-endian uint32 magic
0xCED7230A, uint32 length, the payload, zero padding to a multiple of 4 bytes), each payload one
protobuf `Record`:

    Record  { map<string, Value> features = 1; map<string, Value> label = 2; string uid = 3; ... }
    Value   { oneof { Float32Tensor float32_tensor = 2; Float64Tensor float64_tensor = 3;
                      Int32Tensor int32_tensor = 7; Bytes bytes = 9; } }
    *Tensor { repeated <float|double|int32> values = 1 [packed]; repeated uint64 keys = 2 [packed];
              repeated uint64 shape = 3 [packed]; }

Features and label live under the key `values`. A tensor with keys is sparse (absent entries are
0, the format's meaning), its width from `shape[0]`. No kept reader of this format exists on PyPI
for current Python (mlio, which the built-in uses, is unmaintained), so this is a small decoder
of exactly that schema: packed values go through numpy, so the per-record Python work is a few
field headers.
"""
from __future__ import annotations

import struct
from typing import Iterator

import numpy as np

MAGIC = 0xCED7230A
_FRAME = struct.Struct("<II")
_VALUE_DTYPES = {2: np.dtype("<f4"), 3: np.dtype("<f8"), 7: None}  # Value field -> packed dtype (7: varint)


class RecordIOError(ValueError):
    """The bytes are not RecordIO-protobuf records of the documented schema."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise RecordIOError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise RecordIOError("varint too long")


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of one message: ints for varint/fixed, memoryview for bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise RecordIOError("truncated field")
            value, pos = buf[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = bytes(buf[pos:pos + size]), pos + size
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed_varints(buf: memoryview) -> list[int]:
    out, pos = [], 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        out.append(value)
    return out


def _tensor(kind: int, buf: memoryview) -> np.ndarray:
    """A dense float32 vector from a Float32/Float64/Int32 tensor message."""
    values: list[np.ndarray] = []
    keys: list[int] = []
    shape: list[int] = []
    dtype = _VALUE_DTYPES[kind]
    for number, wire, value in _fields(buf):
        if number == 1:
            if wire == 2:  # packed
                chunk = (np.frombuffer(value, dtype=dtype) if dtype is not None
                         else np.array(_packed_varints(value), dtype=np.int64).astype(np.int32))
            elif dtype is None:  # unpacked int32
                chunk = np.array([value], dtype=np.int64).astype(np.int32)
            else:
                chunk = np.frombuffer(value, dtype=dtype)
            values.append(chunk)
        elif number == 2:
            keys.extend(_packed_varints(value) if wire == 2 else [value])
        elif number == 3:
            shape.extend(_packed_varints(value) if wire == 2 else [value])
    dense = np.concatenate(values).astype(np.float32) if values else np.empty(0, np.float32)
    if not keys:
        return dense
    if not shape:
        raise RecordIOError("a sparse tensor (with keys) must give its shape")
    if len(keys) != len(dense) or max(keys) >= shape[0]:
        raise RecordIOError("sparse tensor keys do not match its values or shape")
    out = np.zeros(shape[0], np.float32)
    out[np.asarray(keys, dtype=np.int64)] = dense
    return out


def _value(buf: memoryview) -> np.ndarray:
    for number, _, value in _fields(buf):
        if number in _VALUE_DTYPES:
            return _tensor(number, value)
        raise RecordIOError(f"Value field {number} (e.g. bytes) is not numeric")
    return np.empty(0, np.float32)


def _map_values(entries: list[memoryview]) -> np.ndarray | None:
    for entry in entries:
        key, tensor = None, None
        for number, _, value in _fields(entry):
            if number == 1:
                key = bytes(value).decode("utf-8", "replace")
            elif number == 2:
                tensor = value
        if key == "values" and tensor is not None:
            return _value(tensor)
    return None


def parse_record(payload: bytes | memoryview) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, label) of one Record; label None when the record has none."""
    features, labels = [], []
    for number, wire, value in _fields(memoryview(payload)):
        if wire == 2 and number == 1:
            features.append(value)
        elif wire == 2 and number == 2:
            labels.append(value)
    feats = _map_values(features)
    if feats is None:
        raise RecordIOError("record has no features['values']")
    return feats, _map_values(labels)


def frames(data: bytes | memoryview) -> Iterator[memoryview]:
    """The payloads of a RecordIO byte string."""
    view, pos = memoryview(data), 0
    while pos < len(view):
        if pos + 8 > len(view):
            raise RecordIOError(f"truncated RecordIO header at byte {pos}")
        magic, length = _FRAME.unpack_from(view, pos)
        if magic != MAGIC:
            raise RecordIOError(f"bad RecordIO magic at byte {pos}: not application/x-recordio-protobuf")
        start = pos + 8
        if start + length > len(view):
            raise RecordIOError(f"truncated RecordIO record at byte {pos}")
        yield view[start:start + length]
        pos = start + ((length + 3) & ~3)


def read_rows(data: bytes | memoryview, require_label: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """All records as (features float32 [n, d], labels float32 [n] or None)."""
    rows, labels = [], []
    for index, payload in enumerate(frames(data)):
        try:
            feats, label = parse_record(payload)
        except RecordIOError as err:
            raise RecordIOError(f"record {index}: {err}") from None
        if rows and len(feats) != len(rows[0]):
            raise RecordIOError(f"record {index} has {len(feats)} features, record 0 has {len(rows[0])}")
        if require_label and (label is None or len(label) != 1):
            raise RecordIOError(f"record {index} has no single label['values']")
        rows.append(feats)
        if label is not None and len(label):
            labels.append(label[0])
    if not rows:
        return np.empty((0, 0), np.float32), None
    matrix = np.vstack(rows)
    return matrix, (np.asarray(labels, np.float32) if len(labels) == len(rows) else None)
