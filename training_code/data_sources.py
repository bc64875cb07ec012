"""Read a channel's files as fixed-size float32 chunks: label first, features after.

CSV (label in column 0: the built-in algorithm's convention; `,` `;` tab or `|` delimited, found
from the first line as the built-in does) and Parquet (label = first column; pandas index columns
dropped) are read with pyarrow in bounded batches (CSV in memory-mapped pieces: csv_pieces),
converted straight to float32 (never float64, never a whole-file copy). A CSV header row is skipped
with a warning (csv_header). libsvm is sparse and usually small: each file is parsed by xgboost's own
reader. RecordIO-protobuf is decoded by recordio_protobuf, one file at a time.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

import columnar
import csv_header
import csv_pieces
import recordio_protobuf
from sm_contract import TrainingError

CSV, PARQUET, LIBSVM, RECORDIO = "csv", "parquet", "libsvm", "recordio-protobuf"
_CONTENT_TYPES = {
    "csv": CSV, "text/csv": CSV,
    "parquet": PARQUET, "application/x-parquet": PARQUET, "application/vnd.apache.parquet": PARQUET,
    "libsvm": LIBSVM, "text/libsvm": LIBSVM, "text/x-libsvm": LIBSVM,
    "recordio-protobuf": RECORDIO, "application/x-recordio-protobuf": RECORDIO,
}
_EXTENSIONS = {".csv": CSV, ".tsv": CSV, ".parquet": PARQUET, ".pq": PARQUET, ".libsvm": LIBSVM, ".svm": LIBSVM,
               ".recordio": RECORDIO, ".pbr": RECORDIO}
# The built-in algorithm reads a channel without ContentType as libsvm.
DEFAULT_CONTENT_TYPE = LIBSVM
CHUNK_ROWS = columnar.CHUNK_ROWS
# pyarrow's block size inside each memory-mapped piece (csv_pieces.PIECE_BYTES = 8 MiB). On 1M x 51 rows,
# 5 interleaved pairs of bench_training's worker: parse + first walk 3.39 s with 1 MiB blocks vs 4.27 s
# with 256 KiB (medians), whole run 16.1 vs 17.3 s, peak 351-359 vs 372-381 MB.
CSV_BLOCK_BYTES = 1 << 20


@dataclass
class Chunk:
    """A batch of rows: `features` is an Arrow table of float32 columns (CSV, Parquet), a float32
    row-major array (RecordIO) or a scipy CSR matrix (libsvm); columnar.dense makes any of them an array."""

    label: np.ndarray
    features: object
    weight: np.ndarray | None = None


def normalize_content_type(value: str) -> str:
    """Map a MIME type or short name (`text/csv; label_size=1`, `parquet`, ...) to csv/parquet/libsvm."""
    base = value.split(";")[0].strip().lower()
    if base not in _CONTENT_TYPES:
        raise TrainingError(f"unsupported content type {value!r}: use text/csv, application/x-parquet, "
                            "text/libsvm or application/x-recordio-protobuf (or csv, parquet, libsvm, recordio-protobuf)")
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
    """The declared content type, else the one file extensions agree on, else libsvm (what the built-in
    reads a channel without ContentType as)."""
    if declared:
        return normalize_content_type(declared)
    kinds = {_EXTENSIONS.get(p.suffix.lower()) for p in files} - {None}
    if len(kinds) > 1:
        raise TrainingError(f"files of mixed formats {sorted(kinds)}: set the channel's ContentType")
    return kinds.pop() if kinds else DEFAULT_CONTENT_TYPE


def _float32_batch(batch: pa.RecordBatch, source: str) -> pa.RecordBatch:
    if all(field.type == pa.float32() for field in batch.schema):
        return batch
    columns = []
    for index, column in enumerate(batch.columns):
        try:
            columns.append(column.cast(pa.float32()) if column.type != pa.float32() else column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise TrainingError(f"{source}: column {index} ({column.type}) is not numeric") from None
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _csv_batches(path: Path) -> Iterator[pa.RecordBatch]:
    layout = csv_header.inspect(path)
    names = [f"c{i}" for i in range(layout.n_cols)]
    read = pa_csv.ReadOptions(column_names=names, block_size=CSV_BLOCK_BYTES, skip_rows=1 if layout.header else 0)
    parse = pa_csv.ParseOptions(delimiter=layout.delimiter)
    # Typed as float32 at parse time: no float64 table ever exists.
    convert = pa_csv.ConvertOptions(column_types={n: pa.float32() for n in names})
    try:
        try:
            tables = csv_pieces.read_tables(path, read_options=read, parse_options=parse, convert_options=convert)
        except (OSError, ValueError):
            # Not memory-mappable (a pipe, some FUSE mounts): pyarrow's streaming reader, one block at a time.
            yield from pa_csv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
            return
        for table in tables:
            yield from table.to_batches()
    except pa.ArrowInvalid as err:
        reason = str(err).splitlines()[0]
        raise TrainingError(f"{path.name}: invalid CSV, every cell must be a number ({reason})") from None


def _parquet_batches(path: Path) -> Iterator[pa.RecordBatch]:
    try:
        # pre_buffer=False: with it, pyarrow buffers whole column chunks ahead (about the file's size).
        pfile = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as err:
        raise TrainingError(f"{path.name}: not a Parquet file ({err})") from None
    index_columns = _pandas_index_columns(pfile.schema_arrow)
    if index_columns:
        print(f"{path.name}: dropping pandas index column(s) {', '.join(index_columns)} (not features)",
              file=sys.stderr, flush=True)
    columns = [name for name in pfile.schema_arrow.names if name not in index_columns]
    for batch in pfile.iter_batches(batch_size=CHUNK_ROWS, use_threads=True, columns=columns):
        yield _float32_batch(batch, path.name)


def _pandas_index_columns(schema: pa.Schema) -> list[str]:
    """Columns pandas stored for its index (`__index_level_0__`, or a named index) per the file's
    pandas metadata; the built-in drops them by reading through pandas."""
    names = {name for name in schema.names if name.startswith("__index_level_")}
    try:
        meta = schema.pandas_metadata or {}
    except (ValueError, TypeError):
        meta = {}
    names.update(col for col in meta.get("index_columns", []) if isinstance(col, str) and col in schema.names)
    return sorted(names, key=schema.names.index)


def _check_libsvm(path: Path) -> None:
    # xgboost's parser reads "1,2,3" as a label-only row: say what the file looks like instead.
    with path.open("rb") as handle:
        first = next((line for line in handle if line.strip()), b"").decode("utf-8", "replace").strip()
    tokens = first.split()
    if tokens and not all(":" in token for token in tokens[1:]) or (len(tokens) == 1 and "," in first):
        hint = " It looks like CSV: set the channel's ContentType to text/csv." if "," in first or "\t" in first else ""
        raise TrainingError(f"{path.name}: first line {first[:60]!r} is not libsvm (<label> <index>:<value> ...); "
                            f"a channel without ContentType is read as libsvm, as the built-in reads it.{hint}")


def _libsvm_chunks(path: Path) -> Iterator[Chunk]:
    import xgboost as xgb

    _check_libsvm(path)
    try:
        matrix = xgb.DMatrix(f"{path}?format=libsvm", silent=True)
    except xgb.core.XGBoostError as err:
        raise TrainingError(f"{path.name}: not libsvm ({str(err).splitlines()[0][:200]})") from None
    yield Chunk(label=matrix.get_label().astype(np.float32), features=matrix.get_data())


def _recordio_chunks(path: Path) -> Iterator[Chunk]:
    try:
        features, labels = recordio_protobuf.read_rows(path.read_bytes(), require_label=True)
    except recordio_protobuf.RecordIOError as err:
        raise TrainingError(f"{path.name}: not RecordIO-protobuf ({err})") from None
    for start in range(0, len(features), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        yield Chunk(label=labels[rows], features=np.ascontiguousarray(features[rows]))


def _width(path: Path, content_type: str) -> int:
    if content_type == PARQUET:
        schema = pq.ParquetFile(path).schema_arrow
        return len(schema) - len(_pandas_index_columns(schema))
    return csv_header.inspect(path).n_cols


def read_chunks(path: Path, content_type: str) -> Iterator[Chunk]:
    """Yield one file's rows as chunks; raises TrainingError naming the file on bad content."""
    if path.stat().st_size == 0:
        raise TrainingError(f"{path.name}: file is empty")
    if content_type == LIBSVM:
        yield from _libsvm_chunks(path)
        return
    if content_type == RECORDIO:
        yield from _recordio_chunks(path)
        return
    batches = _csv_batches(path) if content_type == CSV else _parquet_batches(path)
    count = 0
    for label, features in columnar.regroup(batches, _width(path, content_type), path.name):
        count += len(label)
        yield Chunk(label=label, features=features)
    if count == 0:
        raise TrainingError(f"{path.name}: no rows")
