"""Parsed chunks kept between QuantileDMatrix passes in an unnamed temporary file instead of in RAM.

QuantileDMatrix walks its iterator four times (shape, sketch, index, columns). The first walk parses
the files; each chunk is appended here as raw float32 (and its label, weight) and dropped. Later
walks read one chunk at a time back (`os.preadv` into a fresh buffer): the kernel's page cache
serves it at memory speed while RAM allows, and under memory pressure it drops those clean pages and
reads them from disk again, where a copy held in the process would run it out of memory. So the
process holds one or two chunks, not the channel (on 1M x 50: 200 MB less while xgboost's sketch,
~150 MB, and its quantized matrix are built). The bytes read back are the bytes written: the same
floats, a missing cell stays NaN (xgboost's missing value, as Arrow's null is), the same model.

The file is created with no name (O_TMPFILE where Linux offers it), so it is gone when closed or
when the process dies, and nothing lists or uploads it.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

_TABLE, _ARRAY, _CSR = "table", "array", "csr"


@dataclass(frozen=True)
class _Record:
    """Where one chunk's arrays lie in the file: (offset, dtype, shape) each, and how to rebuild it."""

    kind: str
    arrays: tuple[tuple[int, np.dtype, tuple[int, ...]], ...]
    names: tuple[str, ...]
    has_weight: bool


def _feature_arrays(features: Any) -> tuple[str, list[np.ndarray], tuple[str, ...]]:
    if isinstance(features, pa.Table):
        # One column after another (nulls become NaN): read back as one buffer, sliced per column.
        columns = [np.asarray(col.to_numpy(), dtype=np.float32) for col in features.columns]
        return _TABLE, columns, tuple(features.column_names)
    if isinstance(features, np.ndarray):
        return _ARRAY, [np.ascontiguousarray(features)], ()
    csr = features  # scipy CSR (libsvm)
    shape = np.asarray(csr.shape, dtype=np.int64)
    return _CSR, [csr.data, csr.indices, csr.indptr, shape], ()


class ChunkSpill:
    """Append chunks once, read them back by position; `limit_bytes` caps the file's size."""

    def __init__(self, limit_bytes: int, directory: Path | None = None) -> None:
        self.limit_bytes = limit_bytes
        try:
            self._file = tempfile.TemporaryFile(dir=directory, buffering=0)
        except OSError:
            # The preferred scratch volume is absent or read-only: the system's temporary folder.
            self._file = tempfile.TemporaryFile(buffering=0)
        self._records: list[_Record] = []
        self.size = 0

    def __len__(self) -> int:
        return len(self._records)

    def append(self, label: np.ndarray, weight: np.ndarray | None, features: Any) -> bool:
        """Write one chunk; False (nothing kept) when it would pass `limit_bytes`. OSError (disk full) propagates."""
        kind, feats, names = _feature_arrays(features)
        arrays = [label, *([weight] if weight is not None else []), *feats]
        if self.size + sum(a.nbytes for a in arrays) > self.limit_bytes:
            return False
        placed = []
        for array in arrays:
            placed.append((self.size, array.dtype, array.shape))
            self._write(np.ascontiguousarray(array))
        if kind == _TABLE:
            # The columns lie back to back: one (n_columns, n_rows) block.
            first = placed[len(arrays) - len(feats)]
            placed = [*placed[:len(arrays) - len(feats)], (first[0], first[1], (len(feats), len(label)))]
        self._records.append(_Record(kind, tuple(placed), names, weight is not None))
        return True

    def _write(self, array: np.ndarray) -> None:
        view = array.reshape(-1).view(np.uint8).data
        while view:
            written = self._file.write(view)
            view = view[written:]
        self.size += array.nbytes

    def _read(self, offset: int, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        view = out.reshape(-1).view(np.uint8).data
        while view:
            got = os.preadv(self._file.fileno(), [view], offset)
            if got <= 0:
                raise OSError(f"spill file ended early at byte {offset}")
            view, offset = view[got:], offset + got
        return out

    def read(self, position: int) -> tuple[np.ndarray, np.ndarray | None, Any]:
        """(label, weight, features) of the chunk appended at `position`, as it was appended."""
        record = self._records[position]
        arrays = [self._read(*placed) for placed in record.arrays]
        label = arrays.pop(0)
        weight = arrays.pop(0) if record.has_weight else None
        if record.kind == _TABLE:
            block = arrays[0]
            # pa.array over each row of the block wraps its memory (no copy).
            return label, weight, pa.Table.from_arrays([pa.array(row) for row in block], names=list(record.names))
        if record.kind == _ARRAY:
            return label, weight, arrays[0]
        import scipy.sparse as sp

        data, indices, indptr, shape = arrays
        return label, weight, sp.csr_matrix((data, indices, indptr), shape=tuple(int(s) for s in shape))

    def close(self) -> None:
        self._file.close()
        self._records = []
