"""Read ``application/x-recordio-protobuf`` bodies (the SageMaker SDK's RecordSerializer format).

The format: RecordIO framing (little-endian uint32 magic 0xCED7230A, uint32 length whose top 3
bits are flags, the payload padded to 4 bytes) around protobuf ``aialgs.data.Record`` messages.
Each record is one row: ``features["values"]`` holds a Float32/Float64/Int32 tensor, dense
(``values``) or sparse (``keys`` + ``shape``). Labels, if present, are ignored at inference.

A small wire-format reader instead of the generated protobuf module: the fields needed are four
and fixed by the format, and packed float values go straight to numpy without a Python loop.
"""
from __future__ import annotations

import struct

import numpy as np

MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1
# Record.features = 1 (map entry: key = 1, value = 2); Value: float32 = 2, float64 = 3, int32 = 7;
# Tensor: values = 1, keys = 2, shape = 3.
_TENSOR_DTYPES = {2: np.dtype("<f4"), 3: np.dtype("<f8"), 7: None}


class RecordIOError(ValueError):
    """The body is not RecordIO-protobuf rows; the message says where and why."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise RecordIOError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes):
    """Yield (field number, wire type, value) of one message: bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise RecordIOError("truncated protobuf field")
        yield number, wire, value


def _varints(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        out.append(value)
    return out


def _tensor(kind: int, data: bytes) -> tuple[np.ndarray, list[int], list[int]]:
    dtype = _TENSOR_DTYPES[kind]
    values, keys, shape = [], [], []
    for number, wire, value in _fields(data):
        if number == 1 and wire == 2:  # packed values
            values.append(np.frombuffer(value, dtype) if dtype else
                          np.array(_varints(value), np.int64).astype(np.int32))
        elif number == 1 and wire in (1, 5):  # unpacked float values
            values.append(np.frombuffer(value, dtype))
        elif number == 1 and wire == 0:  # unpacked int32 values
            values.append(np.array([value], np.int64).astype(np.int32))
        elif number in (2, 3):
            target = keys if number == 2 else shape
            target.extend(_varints(value) if wire == 2 else [value])
    array = np.concatenate(values) if values else np.zeros(0, np.float32)
    return array.astype(np.float32), keys, shape


def _features(record: bytes) -> tuple[np.ndarray, list[int], list[int]]:
    for number, wire, entry in _fields(record):
        if number != 1 or wire != 2:
            continue  # labels (2), uid, metadata, configuration
        key, value = b"", None
        for field, _, item in _fields(entry):
            if field == 1:
                key = item
            elif field == 2:
                value = item
        if key != b"values" or value is None:
            continue
        for kind, _, tensor in _fields(value):
            if kind in _TENSOR_DTYPES:
                return _tensor(kind, tensor)
        raise RecordIOError('features["values"] is not a float32, float64 or int32 tensor')
    raise RecordIOError('a record has no features["values"]')


def records(body: bytes):
    """Yield the protobuf payload of each RecordIO record in ``body``."""
    pos = 0
    while pos < len(body):
        if len(body) - pos < 8:
            raise RecordIOError(f"truncated RecordIO header at byte {pos}")
        magic, header = struct.unpack_from("<II", body, pos)
        if magic != MAGIC:
            raise RecordIOError(f"no RecordIO magic number at byte {pos}")
        length = header & _LENGTH_MASK
        start = pos + 8
        if start + length > len(body):
            raise RecordIOError(f"RecordIO record at byte {pos} is truncated")
        yield body[start:start + length]
        pos = start + ((length + 3) & ~3)


def read_rows(body: bytes, n_features: int) -> np.ndarray:
    """float32 rows [records, n_features]; a sparse record's absent features are NaN (missing)."""
    rows = []
    for number, record in enumerate(records(body), 1):
        try:
            values, keys, shape = _features(record)
        except RecordIOError as error:
            raise RecordIOError(f"record {number}: {error}") from None
        if keys:
            width = shape[0] if shape else n_features
            if width != n_features or len(keys) != values.size or max(keys) >= n_features:
                raise RecordIOError(f"record {number}: sparse tensor of width {width} does not fit "
                                    f"{n_features} features")
            row = np.full(n_features, np.nan, np.float32)
            row[np.asarray(keys, np.int64)] = values
            values = row
        elif values.size != n_features:
            raise RecordIOError(f"record {number} has {values.size} values, expected {n_features}")
        rows.append(values)
    if not rows:
        raise RecordIOError("no records")
    return np.vstack(rows)
