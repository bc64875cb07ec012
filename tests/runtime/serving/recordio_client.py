"""A RecordIO-protobuf client encoder for the tests, built on the protobuf library itself.

The sagemaker SDK v3's RecordSerializer is a placeholder (its write_numpy_to_dense_tensor raises
NotImplementedError), so the tests write the same bytes the v2 SDK wrote: the aialgs.data.Record
message declared here from its published .proto definition, serialized by protobuf, framed by
RecordIO. The readers (recordio_protobuf) share no code with this.
"""
from __future__ import annotations

import struct

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _record_class():
    proto = descriptor_pb2.FileDescriptorProto(name="test_record.proto", package="aialgs.data",
                                               syntax="proto2")

    def message(name, fields):
        msg = proto.message_type.add(name=name)
        for number, field_name, kind, label, type_name, packed in fields:
            field = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
            if packed:
                field.options.packed = True
        return msg

    rep, opt = _F.LABEL_REPEATED, _F.LABEL_OPTIONAL
    for name, kind in (("Float32Tensor", _F.TYPE_FLOAT), ("Float64Tensor", _F.TYPE_DOUBLE),
                       ("Int32Tensor", _F.TYPE_INT32)):
        message(name, [(1, "values", kind, rep, None, True), (2, "keys", _F.TYPE_UINT64, rep, None, True),
                       (3, "shape", _F.TYPE_UINT64, rep, None, True)])
    message("Value", [(2, "float32_tensor", _F.TYPE_MESSAGE, opt, ".aialgs.data.Float32Tensor", False),
                      (3, "float64_tensor", _F.TYPE_MESSAGE, opt, ".aialgs.data.Float64Tensor", False),
                      (7, "int32_tensor", _F.TYPE_MESSAGE, opt, ".aialgs.data.Int32Tensor", False)])
    record = message("Record", [])
    for number, name in ((1, "features"), (2, "label")):
        entry = record.nested_type.add(name=name.capitalize() + "Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=opt)
        entry.field.add(name="value", number=2, type=_F.TYPE_MESSAGE, label=opt,
                        type_name=".aialgs.data.Value")
        record.field.add(name=name, number=number, type=_F.TYPE_MESSAGE, label=rep,
                         type_name=f".aialgs.data.Record.{name.capitalize()}Entry")
    record.field.add(name="uid", number=3, type=_F.TYPE_STRING, label=opt)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


Record = _record_class()


def _frame(payload: bytes) -> bytes:
    padding = (4 - len(payload) % 4) % 4
    return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\x00" * padding


def dense_body(rows: np.ndarray, labels=None, dtype=np.float32) -> bytes:
    """What the v2 SDK's RecordSerializer sent for ``rows``: one Record per row."""
    out = []
    tensor = {np.float32: "float32_tensor", np.float64: "float64_tensor", np.int32: "int32_tensor"}[dtype]
    for index, row in enumerate(np.asarray(rows, dtype)):
        record = Record()
        getattr(record.features["values"], tensor).values.extend(row.tolist())
        if labels is not None:
            record.label["values"].float32_tensor.values.extend([float(labels[index])])
        out.append(_frame(record.SerializeToString()))
    return b"".join(out)


def sparse_body(rows: list[dict[int, float]], width: int) -> bytes:
    """Sparse records (write_spmatrix_to_sparse_tensor's layout): keys, values and shape."""
    out = []
    for row in rows:
        record = Record()
        tensor = record.features["values"].float32_tensor
        tensor.keys.extend(sorted(row))
        tensor.values.extend(row[k] for k in sorted(row))
        tensor.shape.extend([width])
        out.append(_frame(record.SerializeToString()))
    return b"".join(out)
