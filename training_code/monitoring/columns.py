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


class ColumnBuilder:
    """Accumulates rows chunk by chunk into float64 blocks, so a window of a million captured
    records never holds more than one chunk of token lists in memory."""

    def __init__(self, names: list[str], string_features: frozenset = frozenset()):
        self.names, self.string_features = names, string_features
        self._blocks: list[np.ndarray] = []
        self._non_numeric = np.zeros(len(names), dtype=np.int64)
        self._strings: dict[int, list] = {i: [] for i, n in enumerate(names) if n in string_features}

    def add(self, rows: list) -> None:
        """Convert `rows` (each exactly len(names) values, checked by the reader) and keep them.

        A row is a CSV line (str) or a list of values; runs of CSV lines are split in one go."""
        if not rows:
            return
        width = len(self.names)
        flat = _flatten(rows)
        try:
            block = np.array(flat, dtype=np.float64)
        except (ValueError, TypeError):
            block, bad = _convert_slowly(flat, width)
            self._non_numeric += bad
        self._blocks.append(block.reshape(len(rows), width))
        if self._strings:
            split = [row.split(",") if isinstance(row, str) else row for row in rows]
            for index, values in self._strings.items():
                values.extend(_text(row[index]) for row in split)

    def merge(self, other: "ColumnBuilder") -> None:
        """Append another builder's rows after this one's (parallel reading, in file order)."""
        self._blocks.extend(other._blocks)
        self._non_numeric += other._non_numeric
        for index, values in other._strings.items():
            self._strings[index].extend(values)

    def finish(self) -> list[Column]:
        width = len(self.names)
        matrix = np.concatenate(self._blocks) if self._blocks else np.empty((0, width))
        self._blocks = []
        columns = []
        for index, name in enumerate(self.names):
            values = np.ascontiguousarray(matrix[:, index])
            bad = int(self._non_numeric[index])
            columns.append(Column(name, values, missing=int(np.isnan(values).sum()) - bad, non_numeric=bad,
                                  strings=self._strings.get(index)))
        return columns


def to_columns(rows: list, names: list[str], string_features: frozenset = frozenset()) -> list[Column]:
    """Columns named `names` from rows that all have len(names) values."""
    builder = ColumnBuilder(names, string_features)
    for start in range(0, len(rows), CHUNK_ROWS):
        builder.add(rows[start:start + CHUNK_ROWS])
    return builder.finish()


def _flatten(rows: list) -> list:
    flat: list = []
    run: list[str] = []
    for row in rows:
        if isinstance(row, str):
            run.append(row)
            continue
        if run:
            flat.extend(",".join(run).split(","))
            run = []
        flat.extend(row)
    if run:
        flat.extend(",".join(run).split(","))
    return flat


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
