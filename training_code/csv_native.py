"""Plain numeric CSV pieces parsed in C (csv_native_c.SOURCE) straight into float32 columns.

pyarrow's CSV reader tokenizes a piece into cells, then converts each column; for the files
training reads (numbers, a delimiter, newlines) that is most of the parse's CPU. The C parser does
both in one pass and, on `bench_training`'s 1M x 51 file, parses it with about half the CPU of
pyarrow's reader (1.7-1.9 vs 3.6-4.1 CPU s, tables included; the C function alone ~20 ns per cell).
It accepts only plain text (csv_native_c's grammar) and returns None for anything else, so the
caller parses that piece with pyarrow as before; a table it returns equals the one pyarrow gives
(same names, float32 values bit for bit, nulls where cells are empty).

A piece is cut at line ends into one part per available core; the parts are parsed on a thread
pool (ctypes releases the GIL during the call) into disjoint rows of one (columns, rows) block.

The library is built once per machine with its C compiler and cached by source hash under
CSV_NATIVE_CACHE (default: <tmp>/ml-platform-training); the image builds it at `docker build`.
Without a compiler, with CSV_NATIVE=off, or in a C locale whose decimal point is not '.' (strtof
would read the digits differently), nothing changes but the speed: pyarrow parses every piece.
"""
from __future__ import annotations

import ctypes
import locale
import mmap
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

import native_build
from csv_native_c import SOURCE
from native_build import NativeUnavailable

# Characters that cannot be the delimiter: they are part of a number or a line end.
_NUMBER_CHARACTERS = set("0123456789.-+eE\n\r")

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_unavailable: str | None = None
_pool: ThreadPoolExecutor | None = None
_pool_threads = 1


def library_path() -> Path:
    return native_build.library_path(SOURCE, "csv-float32", "CSV_NATIVE_CACHE", "ml-platform-training")


def build() -> Path:
    """Compile the library unless the cache holds it; NativeUnavailable where it cannot be."""
    if native_build.switched_off("CSV_NATIVE"):
        raise NativeUnavailable("turned off by CSV_NATIVE")
    return native_build.build(SOURCE, library_path())


def _load() -> ctypes.CDLL | None:
    """The library (built first if needed), or None after saying once on stderr why it is not used."""
    global _library, _unavailable
    with _lock:
        if _library is None and _unavailable is None:
            try:
                lib = ctypes.CDLL(str(build()))
                i64, ptr = ctypes.c_int64, ctypes.c_void_p
                lib.csv_rows.argtypes, lib.csv_rows.restype = [ptr, i64], i64
                lib.csv_float32_parse.argtypes = [ptr, i64, ctypes.c_char, i64, ptr, i64, i64, ptr]
                lib.csv_float32_parse.restype = i64
                _library = lib
            except (NativeUnavailable, OSError) as error:
                _unavailable = str(error)
                print(f"CSV parsed by pyarrow only (C parser unavailable: {error})", file=sys.stderr, flush=True)
        return _library


def _forget_pool() -> None:
    # A forked child has none of its parent's threads: it makes its own pool on first use.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _threads() -> tuple[ThreadPoolExecutor, int]:
    """The parse threads (one per core this process may use), made on first use, and their number."""
    global _pool, _pool_threads
    with _lock:
        if _pool is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            _pool_threads = max(1, cores)
            _pool = ThreadPoolExecutor(max_workers=_pool_threads, thread_name_prefix="csv-native")
        return _pool, _pool_threads


class PieceParser:
    """Parses plain pieces of one memory-mapped file into tables of `names` (all float32)."""

    def __init__(self, lib: ctypes.CDLL, mapped: mmap.mmap, names: list[str], delimiter: str) -> None:
        self._lib, self._mapped, self._names = lib, mapped, names
        self._delimiter = delimiter.encode()
        # A read-only view of the mapping, for its address (the mapping outlives every parse).
        self._view = np.frombuffer(mapped, dtype=np.uint8)
        self._address = self._view.ctypes.data
        self._pool, self._parts = _threads()

    def _cuts(self, start: int, end: int) -> list[tuple[int, int]]:
        """The piece cut after newlines into up to one part per thread."""
        bounds = [start]
        for i in range(1, self._parts):
            cut = self._mapped.rfind(b"\n", bounds[-1], start + (end - start) * i // self._parts) + 1
            if cut > bounds[-1]:
                bounds.append(cut)
        bounds.append(end)
        return list(zip(bounds, bounds[1:], strict=False))  # each cut lies strictly inside the piece

    def parse(self, start: int, end: int) -> pa.Table | None:
        """The table of bytes [start, end) of the file, or None where the text is not plain."""
        parts = self._cuts(start, end)
        counts = [self._lib.csv_rows(self._address + a, b - a) for a, b in parts]
        rows = sum(counts)
        block = np.empty((len(self._names), rows), dtype=np.float32)
        empty = (ctypes.c_int64 * len(parts))()
        first_rows = [sum(counts[:i]) for i in range(len(parts))]

        def parse_part(i: int) -> int:
            a, b = parts[i]
            out = block.ctypes.data + 4 * first_rows[i]
            return self._lib.csv_float32_parse(self._address + a, b - a, self._delimiter, len(self._names), out,
                                               rows, counts[i], ctypes.byref(empty, 8 * i))

        if len(parts) == 1:
            parsed = [parse_part(0)]
        else:
            parsed = list(self._pool.map(parse_part, range(len(parts))))
        if parsed != counts:
            return None
        # from_pandas: an empty cell's NaN becomes a null, as in pyarrow's table (no plain cell reads NaN).
        with_nulls = sum(empty) > 0
        columns = [pa.array(column, from_pandas=with_nulls) for column in block]
        return pa.Table.from_arrays(columns, names=self._names)


def parser_for(mapped: mmap.mmap, names: list[str], delimiter: str,
               column_types: dict[str, pa.DataType], decimal_point: str) -> PieceParser | None:
    """A C parser for pieces of `mapped` read with these options, or None where it cannot stand in
    for pyarrow (CSV_NATIVE=off, a column not float32, a decimal point not '.', a delimiter a number
    may hold, no compiler, or a C locale whose decimal point is not '.')."""
    if (native_build.switched_off("CSV_NATIVE") or not names or decimal_point != "."
            or len(delimiter.encode()) != 1 or delimiter in _NUMBER_CHARACTERS
            or set(column_types) != set(names) or any(t != pa.float32() for t in column_types.values())
            or locale.localeconv()["decimal_point"] != "."):
        return None
    lib = _load()
    return None if lib is None else PieceParser(lib, mapped, names, delimiter)
