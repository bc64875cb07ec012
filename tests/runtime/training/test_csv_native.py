"""The C parser of plain CSV pieces: pyarrow's table bit for bit where it accepts a piece, None (so
pyarrow parses it) for anything else, and nothing but speed changes where it cannot be built."""
from __future__ import annotations

import mmap
from decimal import Decimal, getcontext
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import csv_native
import csv_pieces
import native_build

pytestmark = pytest.mark.skipif(csv_native._load() is None, reason="no C compiler on this machine")


def _names(n_cols: int) -> list[str]:
    return [f"c{i}" for i in range(n_cols)]


def _mapped(tmp_path: Path, text: bytes) -> mmap.mmap:
    path = tmp_path / "piece.csv"
    path.write_bytes(text)
    with path.open("rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _native(tmp_path: Path, text: bytes, n_cols: int, parts: int | None = None, delimiter: str = ",") -> pa.Table | None:
    mapped = _mapped(tmp_path, text)
    names = _names(n_cols)
    parser = csv_native.parser_for(mapped, names, delimiter, {n: pa.float32() for n in names}, ".")
    assert parser is not None
    if parts is not None:
        parser._parts = parts
    return parser.parse(0, len(mapped))


def _pyarrow(text: bytes, n_cols: int, delimiter: str = ",") -> pa.Table:
    names = _names(n_cols)
    return pa_csv.read_csv(pa.py_buffer(text), read_options=pa_csv.ReadOptions(column_names=names),
                           parse_options=pa_csv.ParseOptions(delimiter=delimiter),
                           convert_options=pa_csv.ConvertOptions(column_types={n: pa.float32() for n in names}))


def _bits(table: pa.Table) -> list[np.ndarray]:
    return [col.combine_chunks().to_numpy(zero_copy_only=False).view(np.uint32) for col in table.columns]


def _cells() -> list[str]:
    """Cells in every plain form, with the values that are hardest to round."""
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.standard_normal(3000), rng.uniform(-1e6, 1e6, 1000),
                             10.0 ** rng.uniform(-37, 38, 1000) * rng.choice([-1, 1], 1000)]).astype(np.float32)
    cells = [repr(float(v)) for v in values]  # the shortest double text of a float32 (the benchmark's)
    cells += [f"{v:.9g}" for v in values[:1000]] + [f"{v:.7e}" for v in values[1000:2000]]
    cells += [f"{v:.25f}" for v in values[:300]]  # past 19 digits: strtof
    cells += [f"{v:.3E}" for v in values[4000:4500]] + [f"{v:e}".replace("e-0", "e-") for v in values[4500:]]
    cells += ["0", "-0", "-0.0", "0.000", "007.5", ".5", "5.", "-.5", "1.e5", "1E+05", "1e-0", "0e999999",
              "1e0000000000000000005", "16777217", "16777216.5", "3.4028234e38", "1.1754944e-38",
              "123456789012345678901234567890", "0.000000000000000000000000000000123", "12345678.87654321",
              "0.00000000123456789012", "99999999999999999999", "1234567890123456789", "-00000000123456789.5e-3"]
    # Decimals just beside (and on) float32 rounding midpoints, with 17-19 and with 30 digits.
    getcontext().prec = 60
    for v in values[:400]:
        lo = Decimal(float(v))
        hi = Decimal(float(np.nextafter(v, np.float32(np.inf))))
        mid = (lo + hi) / 2
        for delta in (Decimal(0), mid * Decimal("1e-18"), -mid * Decimal("1e-18"), mid * Decimal("1e-25")):
            exact = mid + delta
            cells.append(f"{exact:.30e}")
            cells.append(f"{exact:.18e}")
    return cells


def test_every_plain_form_reads_as_pyarrow_reads_it_bit_for_bit(tmp_path):
    cells = _cells()
    n_cols = 5
    cells += ["1"] * (-len(cells) % n_cols)
    text = "\n".join(",".join(cells[i:i + n_cols]) for i in range(0, len(cells), n_cols)).encode() + b"\n"
    table = _native(tmp_path, text, n_cols)
    assert table is not None
    expected = _pyarrow(text, n_cols)
    assert table.num_rows == expected.num_rows == len(cells) // n_cols
    for got, want in zip(_bits(table), _bits(expected), strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_parts_on_threads_give_the_rows_in_order_and_the_last_line_needs_no_newline(tmp_path, parts):
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((500, 4)).astype(np.float32)
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()  # no final newline
    table = _native(tmp_path, text, 4, parts=parts)
    assert table is not None and table.equals(_pyarrow(text, 4))
    assert np.array_equal(np.column_stack([c.to_numpy() for c in table.columns]), rows)


def test_empty_cells_are_nulls_as_in_pyarrows_table(tmp_path):
    text = b"1,,3\n,2,\n1,2,3\n,,\n"
    table = _native(tmp_path, text, 3)
    assert table is not None and table.equals(_pyarrow(text, 3))
    assert [c.null_count for c in table.columns] == [2, 2, 2]


def test_other_delimiters(tmp_path):
    text = b"1;2.5;-3e2\n0;4;5\n"
    table = _native(tmp_path, text, 3, delimiter=";")
    assert table is not None and table.equals(_pyarrow(text, 3, delimiter=";"))


@pytest.mark.parametrize("text", [
    b"1,2,3\n 4,5,6\n", b"1,2 ,3\n", b"1,2,3\r\n", b"1,2,3\n\n4,5,6\n", b"+1,2,3\n", b"1,2e,3\n", b"1,-,3\n",
    b"1,.,3\n", b"1,.e5,3\n", b"1,0x10,3\n", b"1,1_0,3\n", b"1,2\n", b"1,2,3,4\n", b"1,2,3\n4,5\n",
    b"1,1e39,3\n", b"1,-1e39,3\n", b"1,1e-50,3\n", b"1,1e-40,3\n", b"1,inf,3\n", b'1,"2",3\n', b"1,2,3\x00\n",
    b"1,2," + b"1" * 100 + b"\n",
])
def test_a_piece_that_is_not_plain_is_left_to_pyarrow(tmp_path, text):
    # A space, CR, blank line, sign, bad number, wrong cell count, overflow, underflow, subnormal, word,
    # quote or a cell too long to copy for strtof: pyarrow decides (its value, its skip or its error).
    assert _native(tmp_path, text, 3) is None


def test_one_column_blank_lines_are_left_to_pyarrow(tmp_path):
    assert _native(tmp_path, b"1\n\n2\n", 1) is None  # pyarrow skips a blank line, it is no empty cell


def test_options_it_cannot_stand_in_for(tmp_path, monkeypatch):
    mapped = _mapped(tmp_path, b"1,2\n")
    floats = {n: pa.float32() for n in _names(2)}
    assert csv_native.parser_for(mapped, _names(2), ",", floats, ".") is not None
    assert csv_native.parser_for(mapped, _names(2), ",", floats, ",") is None  # decimal comma
    assert csv_native.parser_for(mapped, _names(2), ".", floats, ".") is None  # a delimiter numbers hold
    assert csv_native.parser_for(mapped, _names(2), ",", {"c0": pa.float32(), "c1": pa.float64()}, ".") is None
    monkeypatch.setenv("CSV_NATIVE", "off")
    assert csv_native.parser_for(mapped, _names(2), ",", floats, ".") is None


def _read(path: Path) -> pa.Table:
    names = _names(3)
    return pa.concat_tables(csv_pieces.read_tables(
        path, read_options=pa_csv.ReadOptions(column_names=names), parse_options=pa_csv.ParseOptions(),
        convert_options=pa_csv.ConvertOptions(column_types={n: pa.float32() for n in names}), piece_bytes=64))


def test_read_tables_uses_it_for_plain_pieces_only(tmp_path, monkeypatch):
    # GIVEN plain pieces and pieces with a quote, NA, padding and CR between them
    path = tmp_path / "mixed.csv"
    plain = b"".join(b"%d,%d.25,-%de-3\n" % (i % 2, i, i) for i in range(30))
    path.write_bytes(plain + b'1,"2",3\n0,NA,1\n' + plain + b"1, 2,3\r\n" + plain)
    parsed_natively = []
    real_parse = csv_native.PieceParser.parse

    def spy(self, start, end):
        table = real_parse(self, start, end)
        parsed_natively.append(table is not None)
        return table

    monkeypatch.setattr(csv_native.PieceParser, "parse", spy)
    # WHEN it is read in pieces THEN the table is pyarrow's
    assert _read(path).equals(pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(column_names=_names(3)),
                                              convert_options=pa_csv.ConvertOptions(
                                                  column_types={n: pa.float32() for n in _names(3)})).read_all())
    # AND the plain pieces were parsed in C, the rest by pyarrow
    assert parsed_natively.count(True) >= 4 and parsed_natively.count(False) >= 1


def test_without_a_compiler_pyarrow_parses_every_piece(tmp_path, monkeypatch, capsys):
    # GIVEN a machine where the library is not built and cannot be
    def no_compiler():
        raise native_build.NativeUnavailable("no C compiler (cc, gcc or clang) on PATH")

    monkeypatch.setattr(native_build, "_compiler", no_compiler)
    monkeypatch.setattr(csv_native, "library_path", lambda: tmp_path / "absent" / "lib.so")
    monkeypatch.setattr(csv_native, "_library", None)
    monkeypatch.setattr(csv_native, "_unavailable", None)
    path = tmp_path / "t.csv"
    path.write_bytes(b"".join(b"%d,%d.5,7\n" % (i % 2, i) for i in range(40)))
    # WHEN it is read THEN the rows are the same, and the log says once why the C parser is not used
    assert _read(path).equals(_pyarrow(path.read_bytes(), 3))
    assert _read(path).num_rows == 40
    assert capsys.readouterr().err.count("C parser unavailable: no C compiler") == 1


def test_the_cache_folder_is_private_and_one_others_can_write_is_not_loaded_from(tmp_path, monkeypatch):
    # GIVEN no cache yet: the folder is made for this user alone
    monkeypatch.setenv("CSV_NATIVE_CACHE", str(tmp_path / "own"))
    built = csv_native.build()
    assert built.is_file() and (built.parent.stat().st_mode & 0o777) == 0o700
    # GIVEN a cache folder any user may write (a library planted there would run in this process)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / csv_native.library_path().name).write_bytes(b"not to be loaded")
    monkeypatch.setenv("CSV_NATIVE_CACHE", str(shared))
    # WHEN the library is built or loaded from there THEN it is refused, with the reason
    with pytest.raises(native_build.NativeUnavailable, match="writable by or belongs to another user"):
        csv_native.build()
