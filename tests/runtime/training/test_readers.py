"""The readers under train.py: CSV layout sniffing, Arrow regrouping, read-ahead, RecordIO framing."""
from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest

import columnar
import csv_header
import recordio_protobuf
from data_sources import read_chunks
from sm_contract import TrainingError


@pytest.mark.parametrize("text,delimiter,header", [
    ("1,2,3\n4,5,6\n", ",", False),
    ("label;a;b\n1;2,5;3\n", ";", False),  # semicolon wins over the decimal comma; line 2 not numeric either
    ("label\ta\tb\n1\t2\t3\n", "\t", True),
    ("y|x\n1|2\n", "|", True),
    ("1,,3\n4,5,6\n", ",", False),  # an empty cell is a missing value, not a header
])
def test_layout_of_the_first_lines(tmp_path, text, delimiter, header):
    path = tmp_path / "f.csv"
    path.write_text(text)
    layout = csv_header.inspect(path)
    assert (layout.delimiter, layout.header, layout.n_cols) == (delimiter, header, 3 if delimiter != "|" else 2)


def test_header_only_file_is_refused(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("target,f0,f1\n")
    with pytest.raises(TrainingError, match="only a header row"):
        csv_header.inspect(path)


def test_a_bad_cell_after_the_first_line_names_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n" * 10 + "1,oops,3\n")
    with pytest.raises(TrainingError, match="bad.csv: invalid CSV, every cell must be a number"):
        list(read_chunks(path, "csv"))


def test_regroup_makes_full_chunks_of_contiguous_columns():
    batches = [pa.record_batch([pa.array(np.full(n, i, np.float32)) for _ in range(3)], names=["a", "b", "c"])
               for i, n in enumerate((50_000, 30_000, 60_000))]
    chunks = list(columnar.regroup(iter(batches), 3, "x"))
    assert [len(label) for label, _ in chunks] == [65536, 65536, 140_000 - 2 * 65536]
    label, table = chunks[0]
    assert table.num_columns == 2 and all(col.num_chunks == 1 for col in table.columns)
    assert label[49_999] == 0 and label[50_000] == 1
    assert np.array_equal(columnar.dense(table)[:, 0], label)


def test_read_ahead_keeps_order_and_re_raises_the_producers_error():
    assert list(columnar.read_ahead(iter(range(100)))) == list(range(100))

    def failing():
        yield 1
        raise TrainingError("file 2 is bad")

    seen = []
    with pytest.raises(TrainingError, match="file 2 is bad"):
        for item in columnar.read_ahead(failing()):
            seen.append(item)
    assert seen == [1]


def test_recordio_framing_errors_are_clear():
    with pytest.raises(recordio_protobuf.RecordIOError, match="bad RecordIO magic"):
        list(recordio_protobuf.frames(b"1,2,3\n4,5,6\n"))
    truncated = struct.pack("<II", recordio_protobuf.MAGIC, 100) + b"\x0a\x02"
    with pytest.raises(recordio_protobuf.RecordIOError, match="truncated RecordIO record"):
        list(recordio_protobuf.frames(truncated))
