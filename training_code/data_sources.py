"""Read a channel's files as fixed-size float32 chunks: label first, features after.

CSV (no header, label in column 0: the built-in algorithm's convention) and Parquet (label = first
column) are read with pyarrow in bounded batches, converted straight to float32 (never float64, never
a whole-file copy). libsvm is sparse and usually small: each file is parsed by xgboost's own reader.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sm_contract import TrainingError

CSV, PARQUET, LIBSVM = "csv", "parquet", "libsvm"
_CONTENT_TYPES = {
    "csv": CSV, "text/csv": CSV,
    "parquet": PARQUET, "application/x-parquet": PARQUET, "application/vnd.apache.parquet": PARQUET,
    "libsvm": LIBSVM, "text/libsvm": LIBSVM, "text/x-libsvm": LIBSVM,
}
_EXTENSIONS = {".csv": CSV, ".parquet": PARQUET, ".pq": PARQUET, ".libsvm": LIBSVM, ".svm": LIBSVM}
CHUNK_ROWS = 65536
# Small CSV blocks parse faster in pyarrow's streaming reader and keep the transient buffer tiny.
CSV_BLOCK_BYTES = 1 << 20


@dataclass
class Chunk:
    """A batch of rows: `features` is float32 (dense, row-major) or a scipy CSR matrix."""

    label: np.ndarray
    features: object
    weight: np.ndarray | None = None


def normalize_content_type(value: str) -> str:
    """Map a MIME type or short name (`text/csv; label_size=1`, `parquet`, ...) to csv/parquet/libsvm."""
    base = value.split(";")[0].strip().lower()
    if base not in _CONTENT_TYPES:
        raise TrainingError(f"unsupported content type {value!r}: use text/csv, application/x-parquet or text/libsvm")
    if base in ("csv", "text/csv") and "label_size" in value and "label_size=1" not in value.replace(" ", ""):
        raise TrainingError(f"content type {value!r}: label_size must be 1")
    return _CONTENT_TYPES[base]


def list_files(directory: Path) -> list[Path]:
    """Data files under a channel directory (recursively), sorted; hidden and `_`-prefixed files skipped."""
    return sorted(
        p for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(directory).parts)
    )


def detect_content_type(files: list[Path], declared: str | None) -> str:
    """The declared content type, else the one file extensions agree on, else CSV (the built-in's default
    for text without an extension)."""
    if declared:
        return normalize_content_type(declared)
    kinds = {_EXTENSIONS.get(p.suffix.lower()) for p in files} - {None}
    if len(kinds) > 1:
        raise TrainingError(f"files of mixed formats {sorted(kinds)}: set the channel's ContentType")
    return kinds.pop() if kinds else CSV


def _rechunk(columns: Iterator[list[np.ndarray]], n_cols: int, source: str) -> Iterator[Chunk]:
    """Copy column batches into CHUNK_ROWS-row float32 buffers (row-major, as xgboost wants).

    Each emitted chunk owns fresh buffers, so the only copy is the column-to-row one.
    """
    if n_cols < 2:
        raise TrainingError(f"{source}: needs a label column and at least one feature column")

    def fresh():
        return np.empty(CHUNK_ROWS, np.float32), np.empty((CHUNK_ROWS, n_cols - 1), np.float32)

    label, feats = fresh()
    filled = 0
    for cols in columns:
        if len(cols) != n_cols:
            raise TrainingError(f"{source}: {len(cols)} columns, expected {n_cols}")
        n, start = len(cols[0]), 0
        while start < n:
            take = min(CHUNK_ROWS - filled, n - start)
            rows = slice(filled, filled + take)
            label[rows] = cols[0][start:start + take]
            for j in range(1, n_cols):
                feats[rows, j - 1] = cols[j][start:start + take]
            filled += take
            start += take
            if filled == CHUNK_ROWS:
                yield Chunk(label=label, features=feats)
                label, feats = fresh()
                filled = 0
    if filled:
        yield Chunk(label=label[:filled], features=feats[:filled])


def _as_float_columns(batch: pa.RecordBatch, source: str) -> list[np.ndarray]:
    out = []
    for index, column in enumerate(batch.columns):
        try:
            column = column.cast(pa.float32()) if column.type != pa.float32() else column
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise TrainingError(f"{source}: column {index} ({column.type}) is not numeric") from None
        out.append(column.to_numpy(zero_copy_only=False))
    return out


def _csv_columns(path: Path) -> Iterator[list[np.ndarray]]:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        raise TrainingError(f"{path.name}: file is empty")
    n_cols = first.count(b",") + 1
    names = [f"c{i}" for i in range(n_cols)]
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, block_size=CSV_BLOCK_BYTES),
            # Typed as float32 at parse time: no float64 table ever exists.
            convert_options=pa_csv.ConvertOptions(column_types={n: pa.float32() for n in names}),
        )
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            yield [c.to_numpy(zero_copy_only=False) for c in batch.columns]
    except pa.ArrowInvalid as err:
        reason = str(err).splitlines()[0]
        raise TrainingError(f"{path.name}: invalid CSV, every cell must be a number ({reason})") from None


def _parquet_columns(path: Path) -> Iterator[list[np.ndarray]]:
    try:
        # pre_buffer=False: with it, pyarrow buffers whole column chunks ahead (about the file's size).
        pfile = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as err:
        raise TrainingError(f"{path.name}: not a Parquet file ({err})") from None
    for batch in pfile.iter_batches(batch_size=CHUNK_ROWS, use_threads=True):
        yield _as_float_columns(batch, path.name)


def _libsvm_chunks(path: Path) -> Iterator[Chunk]:
    import xgboost as xgb

    try:
        matrix = xgb.DMatrix(f"{path}?format=libsvm", silent=True)
    except xgb.core.XGBoostError as err:
        raise TrainingError(f"{path.name}: not libsvm ({str(err).splitlines()[0][:200]})") from None
    yield Chunk(label=matrix.get_label().astype(np.float32), features=matrix.get_data())


def _width(path: Path, content_type: str) -> int:
    if content_type == PARQUET:
        return len(pq.ParquetFile(path).schema_arrow)
    with path.open("rb") as handle:
        return handle.readline().count(b",") + 1


def read_chunks(path: Path, content_type: str) -> Iterator[Chunk]:
    """Yield one file's rows as chunks; raises TrainingError naming the file on bad content."""
    if path.stat().st_size == 0:
        raise TrainingError(f"{path.name}: file is empty")
    if content_type == LIBSVM:
        yield from _libsvm_chunks(path)
        return
    columns = _csv_columns(path) if content_type == CSV else _parquet_columns(path)
    count = 0
    for chunk in _rechunk(columns, _width(path, content_type), path.name):
        count += len(chunk.label)
        yield chunk
    if count == 0:
        raise TrainingError(f"{path.name}: no rows")
