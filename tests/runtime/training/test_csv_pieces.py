"""CSV parsed in memory-mapped pieces: the same rows, missing cells and errors as pyarrow's streaming
reader, whatever the piece size, and the fallback to that reader where a file cannot be mapped."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import csv_pieces
import data_sources
from data_sources import read_chunks
from sm_contract import TrainingError

NAMES = ["c0", "c1", "c2"]


def _options(header: bool = False):
    return dict(read_options=pa_csv.ReadOptions(column_names=NAMES, skip_rows=1 if header else 0),
                parse_options=pa_csv.ParseOptions(delimiter=","),
                convert_options=pa_csv.ConvertOptions(column_types={n: pa.float32() for n in NAMES}))


def _streamed(path, header: bool = False) -> pa.Table:
    return pa_csv.open_csv(path, **_options(header)).read_all()


@pytest.mark.parametrize("piece_bytes", [1, 7, 64, 1 << 20])
def test_pieces_end_after_a_newline_and_cover_the_text(piece_bytes):
    text = b"1,2,3\n" + b"10,20,30\n" * 20 + b"4,5,6"  # no newline at the end
    bounds = list(csv_pieces.piece_bounds(text, piece_bytes))
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert all(text[end - 1:end] == b"\n" for _, end in bounds[:-1])


def test_a_line_longer_than_a_piece_makes_its_piece_longer():
    text = b"1,2,3\n" + b"9" * 100 + b",1,1\n" + b"4,5,6\n"
    assert list(csv_pieces.piece_bounds(text, 10)) == [(0, 6), (6, 111), (111, 117)]


@pytest.mark.parametrize("piece_bytes", [16, 50, 1 << 20])
def test_tables_equal_the_streaming_readers_rows(tmp_path, piece_bytes):
    # GIVEN a header, missing cells, CRLF line ends, a blank line and no final newline
    path = tmp_path / "t.csv"
    path.write_bytes(b"y,a,b\r\n" + b"".join(b"%d,%d.5,\r\n" % (i % 2, i) for i in range(40)) + b"\n1,,7")
    # WHEN it is read in pieces
    tables = list(csv_pieces.read_tables(path, piece_bytes=piece_bytes, **_options(header=True)))
    # THEN the rows are the streaming reader's, header skipped once, nulls where cells are empty
    assert len(tables) > 1 or piece_bytes > 1000
    assert pa.concat_tables(tables).equals(_streamed(path, header=True))
    assert pa.concat_tables(tables).num_rows == 41


def test_read_chunks_in_pieces_and_streamed_give_the_same_chunks(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    path = tmp_path / "train.csv"
    data = rng.standard_normal((3000, 5)).astype(np.float32)
    np.savetxt(path, np.column_stack([rng.integers(0, 2, 3000), data]), delimiter=",", fmt="%.7g")
    monkeypatch.setattr(csv_pieces, "PIECE_BYTES", 4096)
    pieces = list(read_chunks(path, "csv"))

    def unmappable(*_args, **_kwargs):
        raise OSError("no mmap here")

    # GIVEN a file that cannot be memory-mapped: the streaming reader, the same chunks
    monkeypatch.setattr(data_sources.csv_pieces, "read_tables", unmappable)
    streamed = list(read_chunks(path, "csv"))
    assert [len(c.label) for c in pieces] == [len(c.label) for c in streamed] == [3000]
    assert np.array_equal(pieces[0].label, streamed[0].label)
    assert pieces[0].features.equals(streamed[0].features)


def test_a_bad_cell_in_a_later_piece_names_the_file_and_the_cell(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n" * 500 + "1,abc,3\n")
    monkeypatch.setattr(csv_pieces, "PIECE_BYTES", 256)
    with pytest.raises(TrainingError, match=r"bad.csv: invalid CSV, every cell must be a number \(.*'abc'"):
        list(read_chunks(path, "csv"))


def _record_parses(monkeypatch) -> list[tuple[bool, bool]]:
    """Spies on csv_pieces' pyarrow parses: (with the lean options, parsed without error) per call.
    The C parser is off, so every piece reaches pyarrow (test_csv_native covers the C parser)."""
    monkeypatch.setenv("CSV_NATIVE", "off")
    calls: list[tuple[bool, bool]] = []
    real_read_csv = pa_csv.read_csv

    def spy(source, **options):
        lean = options["parse_options"].quote_char is False
        try:
            table = real_read_csv(source, **options)
        except pa.ArrowInvalid:
            calls.append((lean, False))
            raise
        calls.append((lean, True))
        return table

    monkeypatch.setattr(csv_pieces.pa_csv, "read_csv", spy)
    return calls


def test_lean_options_parse_plain_pieces_and_the_callers_options_the_rest(tmp_path, monkeypatch):
    # GIVEN pieces of plain numbers, a quoted cell, missing-value words (NA, nan), a blank line and
    # padded cells, one or two lines per piece
    path = tmp_path / "mixed.csv"
    lines = [b"1,2.5,3", b"0,4,5", b'1,"6.5",7', b"0,NA,8", b"1,nan,-nan", b"", b"0, 9.5 ,1e3", b"1,,2",
             b"0,1,2\r", b"1,3,4"]
    path.write_bytes(b"\n".join(lines) + b"\n")
    calls = _record_parses(monkeypatch)
    # WHEN it is read in pieces
    tables = list(csv_pieces.read_tables(path, piece_bytes=12, **_options()))
    # THEN the table is the one the caller's options give: the same rows, nulls and values
    monkeypatch.undo()
    assert pa.concat_tables(tables).equals(_streamed(path))
    # AND the plain pieces took the lean options; the quoted, NA and nan pieces went to the caller's
    assert sum(1 for lean, ok in calls if lean and ok) >= 4
    assert sum(1 for lean, ok in calls if lean and not ok) == 0
    assert sum(1 for lean, ok in calls if not lean) == 3


def test_a_bad_cell_refused_by_the_lean_options_gets_the_callers_error(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n" * 50 + "1,2x,3\n")
    calls = _record_parses(monkeypatch)
    with pytest.raises(pa.ArrowInvalid, match="2x"):
        list(csv_pieces.read_tables(path, piece_bytes=64, **_options()))
    refused = [lean for lean, parsed in calls if not parsed]
    assert refused == [True, False]  # the lean options refused it, the caller's worded the error


def test_lean_options_only_stand_in_for_plain_options():
    types = {n: pa.float32() for n in NAMES}
    assert csv_pieces._lean_options(pa_csv.ParseOptions(delimiter=";"), pa_csv.ConvertOptions(column_types=types))
    # Anything the lean options would not carry over keeps every piece on the caller's options.
    assert csv_pieces._lean_options(pa_csv.ParseOptions(escape_char="\\"), pa_csv.ConvertOptions(column_types=types)) is None
    assert csv_pieces._lean_options(pa_csv.ParseOptions(), pa_csv.ConvertOptions(column_types=types,
                                                                                 include_columns=["c0"])) is None
    assert csv_pieces._lean_options(pa_csv.ParseOptions(), pa_csv.ConvertOptions(column_types=types,
                                                                                 null_values=["?"])) is None
