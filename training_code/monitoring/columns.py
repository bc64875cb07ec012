"""Rows of tokens -> one numeric column per feature, with missing and non-numeric values counted.

Conversion runs over chunks of the whole window with numpy; only a chunk that holds an empty
cell or a token that is not a number falls back to converting value by value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CHUNK_ROWS = 50_000
_MISSING_TOKENS = {"", "nan", "NaN", "null", "None"}


@dataclass
class Column:
    """One feature: `values` (NaN where missing or not a number) and the counts behind the NaNs."""

    name: str
    values: np.ndarray
    missing: int        # empty cells, JSON null, "nan"
    non_numeric: int    # present but not a number (a type violation for a numeric feature)
    strings: list | None = None  # the raw values, kept for String (categorical) features

    @property
    def count(self) -> int:
        return len(self.values)


def to_columns(rows: list, names: list[str], string_features: frozenset = frozenset()) -> list[Column]:
    """Columns named `names` from rows that all have len(names) values (checked by the reader)."""
    width, n = len(names), len(rows)
    matrix = np.empty((n, width), dtype=np.float64)
    non_numeric = np.zeros(width, dtype=np.int64)
    for start in range(0, n, CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        flat = [value for row in chunk for value in row]
        try:
            block = np.array(flat, dtype=np.float64)
        except (ValueError, TypeError):
            block, bad = _convert_slowly(flat, width)
            non_numeric += bad
        matrix[start:start + len(chunk)] = block.reshape(len(chunk), width)
    columns = []
    for index, name in enumerate(names):
        values = np.ascontiguousarray(matrix[:, index])
        nan = int(np.isnan(values).sum())
        strings = [_text(row[index]) for row in rows] if name in string_features else None
        columns.append(Column(name, values, missing=nan - int(non_numeric[index]),
                              non_numeric=int(non_numeric[index]), strings=strings))
    return columns


def _convert_slowly(flat: list, width: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty(len(flat), dtype=np.float64)
    bad = np.zeros(width, dtype=np.int64)
    for index, value in enumerate(flat):
        number = _number(value)
        if number is None:
            out[index] = math.nan
            if not _is_missing(value):
                bad[index % width] += 1
        else:
            out[index] = number
    return out, bad


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in _MISSING_TOKENS) or (
        isinstance(value, float) and math.isnan(value))


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None if value is None else float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip() not in _MISSING_TOKENS:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _text(value) -> str | None:
    return None if _is_missing(value) else str(value).strip()
