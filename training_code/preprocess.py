"""SageMaker Processing job: split a table into train/validation/test CSVs for XGBoost.

    python preprocess.py --target-column target [--input-dir /opt/ml/processing/input]
        [--output-dir /opt/ml/processing] [--validation-fraction 0.15] [--test-fraction 0.15]
        [--seed 42] [--no-stratify]

Input: either the ETL's training-ready layout (`train/`, `validation/` and optionally `test/` folders
of label-first CSV without header, split and encoded by the Glue job with statistics fitted on its
train split), which is validated and passed through unchanged so no row moves between splits; or
CSV files with a header row, or Parquet files, under `--input-dir`, which are split here. Output:
`<output-dir>/{train,validation,test}/<name>.csv`, label first, no header (the built-in XGBoost
convention). Numeric feature columns are kept in input order; non-numeric ones are dropped (logged).
A non-numeric target is encoded as 0..k-1 in sorted class order (logged). The split is stratified on
the target when it has at most 100 distinct values, and seeded, so a rerun gives the same rows.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

MAX_STRATA = 100
SPLITS = ("train", "validation", "test")


def is_presplit(input_dir: Path) -> bool:
    """The ETL's layout: a train/ and a validation/ folder of channel files."""
    return (input_dir / "train").is_dir() and (input_dir / "validation").is_dir()


def pass_through_splits(input_dir: Path, output_dir: Path) -> dict[str, int]:
    """Validate the pre-split, label-first CSV channels and copy them; returns rows per split.

    Every file must parse as numbers with one column count across all splits (label first), so a
    broken ETL output fails here with the file named, before tuning spends any instance hours.
    """
    width, counts = None, {}
    for name in SPLITS:
        folder = input_dir / name
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        if not files:
            raise SystemExit(f"{folder}: no channel files")
        counts[name] = 0
        for index, path in enumerate(files):
            if path.stat().st_size == 0:
                continue  # Spark writes an empty part file for an empty partition
            table = pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(autogenerate_column_names=True))
            if any(not (pa.types.is_integer(c.type) or pa.types.is_floating(c.type)) for c in table.columns):
                raise SystemExit(f"{path}: non-numeric column in a label-first CSV channel file")
            if width is not None and table.num_columns != width:
                raise SystemExit(f"{path}: {table.num_columns} columns, other files have {width}")
            width = table.num_columns
            target = output_dir / name / f"{name}-{index:05d}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
            counts[name] += table.num_rows
    return counts


def read_table(input_dir: Path) -> pa.Table:
    """Concatenate every CSV (with header) and Parquet file under the input directory."""
    tables = []
    for path in sorted(p for p in input_dir.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))):
        if path.suffix.lower() in (".parquet", ".pq"):
            tables.append(pq.read_table(path))
        elif path.suffix.lower() in (".csv", ".txt", ""):
            tables.append(pa_csv.read_csv(path))
    if not tables:
        raise SystemExit(f"no CSV or Parquet files under {input_dir}")
    return pa.concat_tables(tables, promote_options="default")


def to_matrix(table: pa.Table, target: str) -> tuple[np.ndarray, list[str]]:
    """A float64 matrix with the (encoded) target first, and the names of the kept features."""
    if target not in table.column_names:
        raise SystemExit(f"target column {target!r} not in {table.column_names}")
    label = table[target]
    if not (pa.types.is_integer(label.type) or pa.types.is_floating(label.type) or pa.types.is_boolean(label.type)):
        classes = pc.unique(label).sort()
        print(f"encoding target classes {classes.to_pylist()} as 0..{len(classes) - 1}")
        label = pc.index_in(label, value_set=classes)
    columns, names = [label.cast(pa.float64()).to_numpy()], []
    for name in table.column_names:
        if name == target:
            continue
        column = table[name]
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_boolean(column.type):
            columns.append(column.cast(pa.float64()).to_numpy())
            names.append(name)
        else:
            print(f"dropping non-numeric column {name!r} ({column.type})")
    return np.column_stack(columns), names


def split_indices(labels: np.ndarray, fractions: tuple[float, float], seed: int,
                  stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (stratified) split into train/validation/test row indices."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == v) for v in np.unique(labels)] if stratify else [np.arange(len(labels))]
    parts: list[list[np.ndarray]] = [[], [], []]
    for rows in groups:
        rows = rng.permutation(rows)
        n_val, n_test = (int(round(len(rows) * f)) for f in fractions)
        parts[1].append(rows[:n_val])
        parts[2].append(rows[n_val:n_val + n_test])
        parts[0].append(rows[n_val + n_test:])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def write_csv(matrix: np.ndarray, path: Path) -> None:
    """Label-first CSV without header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({f"c{i}": matrix[:, i] for i in range(matrix.shape[1])})
    pa_csv.write_csv(table, path, pa_csv.WriteOptions(include_header=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/input"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-stratify", action="store_true")
    args = parser.parse_args(argv)
    if not 0 < args.validation_fraction + args.test_fraction < 1:
        parser.error("validation + test fractions must be in (0, 1)")
    if is_presplit(args.input_dir):
        for name, rows in pass_through_splits(args.input_dir, args.output_dir).items():
            print(f"{name}: {rows} rows passed through (pre-split by the ETL) -> {args.output_dir / name}")
        return 0
    matrix, names = to_matrix(read_table(args.input_dir), args.target_column)
    matrix = matrix[~np.isnan(matrix[:, 0])]  # rows without a label cannot train or score
    stratify = not args.no_stratify and len(np.unique(matrix[:, 0])) <= MAX_STRATA
    splits = split_indices(matrix[:, 0], (args.validation_fraction, args.test_fraction), args.seed, stratify)
    for name, rows in zip(("train", "validation", "test"), splits, strict=True):
        write_csv(matrix[rows], args.output_dir / name / f"{name}.csv")
        print(f"{name}: {len(rows)} rows -> {args.output_dir / name}")
    print(f"features ({len(names)}): {', '.join(names)}; stratified={stratify}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
