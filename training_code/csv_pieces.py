"""Parse a CSV file in pieces cut at line ends, each piece by pyarrow's multithreaded reader.

pyarrow's streaming CSV reader (`open_csv`) parses one block after another; its whole-file reader
(`read_csv`) parses many blocks at once but holds the whole table. Pieces of a few MiB, each parsed
with `read_csv`, get the parallel parse with one piece in memory: 1M x 51 float32 rows parsed in
1.6-1.8 s instead of 2.5-2.7 s on 2 cores (`bench_training`'s file).

The pieces are slices of a read-only memory map, handed to pyarrow without a copy. Once a piece is
parsed its pages are dropped from this process's mapping (MADV_DONTNEED: the page cache keeps them
and a later pass over the file still reads them from memory), so the resident set holds one piece of
text, never the file. A piece ends at the last line end inside it (a line longer than a piece makes
its piece longer); pyarrow converts the same way as the streaming reader, so the rows, their NaN
cells and the errors are the same.

A piece of plain numbers (no quote, `n` or `N`; see below) goes to the C parser first (csv_native:
one pass from text to float32 columns, about half pyarrow's CPU on the benchmark's file), which
returns pyarrow's table or None for any text that is not plain (a space, a CR, a blank line, a sign
`+`...). Without a C compiler every piece goes to pyarrow.

Each piece pyarrow parses is first parsed with lighter options (`_lean_options`: no quoting, only the empty cell as
missing; parsing the benchmark's training file, medians of 10 interleaved in-process runs: 9.5% less
CPU, 7% less wall time). A piece holding a quote, `n` or `N` goes to the caller's options at once:
the lean options do not unquote, and every missing-value word but the empty cell (`NA`, `nan`,
`NULL`...) has an n, where the lean options would read `nan` as a NaN value, not a null. A piece
they refuse anyway (a cell that is not a number) is parsed again with the caller's options, which
word its error. Either way the table is the one the caller's options give.
"""
from __future__ import annotations

import mmap
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.csv as pa_csv

import csv_native

PIECE_BYTES = 8 << 20


def piece_bounds(text: mmap.mmap | bytes, piece_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive pieces of `text`, each ending after a newline (the last at the end)."""
    start, size = 0, len(text)
    while start < size:
        end = min(start + piece_bytes, size)
        if end < size:
            cut = text.rfind(b"\n", start, end)
            if cut < 0:  # one line longer than a piece: the piece runs to that line's end
                cut = text.find(b"\n", end)
            end = size if cut < 0 else cut + 1
        yield start, end
        start = end


def _drop_pages(mapped: mmap.mmap, start: int, end: int) -> None:
    if not hasattr(mmap, "MADV_DONTNEED"):  # not Linux: the kernel reclaims mapped pages as it needs
        return
    first = start - start % mmap.PAGESIZE
    length = (end - first) - (end - first) % mmap.PAGESIZE
    if length:
        mapped.madvise(mmap.MADV_DONTNEED, first, length)


def read_tables(path: Path, *, read_options: pa_csv.ReadOptions, parse_options: pa_csv.ParseOptions,
                convert_options: pa_csv.ConvertOptions, piece_bytes: int | None = None) -> Iterator[pa.Table]:
    """The file's rows as one table per piece, parsed as they are iterated. `read_options.skip_rows`
    applies to the first piece only.

    Maps the file at once: OSError or ValueError here where it cannot be memory-mapped (callers fall
    back to the streaming reader); pyarrow's ArrowInvalid during iteration on a bad cell."""
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)  # keeps its own descriptor
    # Pieces after the first start mid-file: the header row (skip_rows) is in the first one only.
    rest = pa_csv.ReadOptions(column_names=read_options.column_names, block_size=read_options.block_size,
                              use_threads=read_options.use_threads, encoding=read_options.encoding)
    return _parse(mapped, piece_bytes or PIECE_BYTES, first=read_options, rest=rest, parse_options=parse_options,
                  convert_options=convert_options)


# A quote (the lean options do not unquote) or the n/N of every missing-value word but the empty cell.
_NOT_LEAN = (b'"', b"n", b"N")


def _lean_options(parse_options: pa_csv.ParseOptions,
                  convert_options: pa_csv.ConvertOptions) -> tuple[pa_csv.ParseOptions, pa_csv.ConvertOptions] | None:
    """Options that parse a numeric piece without quotes and without `n`/`N` (so without a
    missing-value word but the empty cell) into the same table with less work, or None where the
    caller's options hold more than column types, a decimal point, a delimiter and blank-line handling
    (the lean ones would drop the rest)."""
    lean_parse = pa_csv.ParseOptions(delimiter=parse_options.delimiter,
                                     ignore_empty_lines=parse_options.ignore_empty_lines)
    lean_convert = pa_csv.ConvertOptions(column_types=convert_options.column_types,
                                         decimal_point=convert_options.decimal_point)
    if not parse_options.equals(lean_parse) or not convert_options.equals(lean_convert):
        return None
    # The caller's options exactly, but for what makes them lean.
    lean_parse.quote_char, lean_convert.null_values = False, [""]
    return lean_parse, lean_convert


def _parse(mapped: mmap.mmap, piece_bytes: int, *, first: pa_csv.ReadOptions, rest: pa_csv.ReadOptions,
           parse_options: pa_csv.ParseOptions, convert_options: pa_csv.ConvertOptions) -> Iterator[pa.Table]:
    # The mapping is never closed explicitly: pyarrow may still hold a view of the last piece for a
    # moment (its reader threads) and close() refuses while one exists; it goes with its last reference.
    text = memoryview(mapped)
    lean = _lean_options(parse_options, convert_options)
    native = None if lean is None else csv_native.parser_for(
        mapped, list(rest.column_names), parse_options.delimiter, dict(convert_options.column_types),
        convert_options.decimal_point)
    for start, end in piece_bounds(mapped, piece_bytes):
        piece = pa.py_buffer(text[start:end])
        read_options = first if start == 0 else rest
        table = None
        # Not the header's piece: without quoting, the rows pyarrow skips could be counted differently.
        if lean is not None and not read_options.skip_rows:
            if native is not None:
                table = native.parse(start, end)  # None where the text is not plain (a quote, n, N...)
            if table is None and all(mapped.find(byte, start, end) < 0 for byte in _NOT_LEAN):
                try:
                    table = pa_csv.read_csv(piece, read_options=read_options, parse_options=lean[0],
                                            convert_options=lean[1])
                except pa.ArrowInvalid:
                    pass  # the caller's options decide: their rows, or their wording of the error
        if table is None:
            table = pa_csv.read_csv(piece, read_options=read_options, parse_options=parse_options,
                                    convert_options=convert_options)
        # The table owns its float32 columns: nothing refers to the mapped text afterwards.
        _drop_pages(mapped, start, end)
        yield table
