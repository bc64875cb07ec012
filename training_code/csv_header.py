"""What the first lines of a CSV file say: its delimiter, its width, and whether line 1 is a header.

The delimiter is the one of `,` tab `;` `|` the first line uses most (the built-in algorithm sniffs
it from the first line too). A header row (what `DataFrame.to_csv(index=False)` writes) is line 1
when it holds a cell that is not a number while line 2 is all numbers. The built-in trains on it as
a data row; we skip it and warn, naming it, because a header is never a training example.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

from sm_contract import TrainingError

DELIMITERS = (",", "\t", ";", "|")
_MISSING = {"", "nan", "NaN", "NA", "?"}


@dataclass(frozen=True)
class Layout:
    delimiter: str
    n_cols: int
    header: bool


def _is_number(cell: str) -> bool:
    cell = cell.strip().strip('"')
    if cell in _MISSING:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _first_lines(path: Path, count: int = 2) -> list[str]:
    lines = []
    with path.open("rb") as handle:
        for raw in handle:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text.strip():
                lines.append(text)
            if len(lines) == count:
                break
    return lines


@functools.lru_cache(maxsize=256)
def _inspect(path_text: str, size: int, mtime_ns: int) -> Layout:
    path = Path(path_text)
    lines = _first_lines(path)
    if not lines:
        raise TrainingError(f"{path.name}: file is empty")
    first = lines[0]
    delimiter = max(DELIMITERS, key=first.count)  # ties: the earlier one (comma first)
    cells = first.split(delimiter)
    header = not all(_is_number(cell) for cell in cells)
    if header:
        if len(lines) < 2:
            raise TrainingError(f"{path.name}: holds only a header row ({first[:80]!r}) and no data")
        if not all(_is_number(cell) for cell in lines[1].split(delimiter)):
            header = False  # not a header: the data itself is not numeric, and the reader says where
        else:
            print(f"{path.name}: line 1 ({first[:80]!r}) is a header row, not data: skipped. Write the file "
                  f"without one (DataFrame.to_csv(index=False, header=False)) to silence this warning",
                  file=sys.stderr, flush=True)
    return Layout(delimiter=delimiter, n_cols=len(cells), header=header)


def inspect(path: Path) -> Layout:
    """The layout of a CSV file (cached while the file is unchanged; the header warning prints once)."""
    stat = path.stat()
    return _inspect(str(path), stat.st_size, stat.st_mtime_ns)
