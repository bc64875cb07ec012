"""The spill file between QuantileDMatrix walks: what is read back is what was written, and a full
budget or a full disk falls back to re-reading the files without losing a row."""
from __future__ import annotations

import errno

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
import xgboost as xgb

import spill
from data_iter import ChannelIter, build_matrix, label_checker


def _table(rows: int, seed: int) -> pa.Table:
    x = np.random.default_rng(seed).standard_normal((rows, 3)).astype(np.float32)
    columns = [pa.array(x[:, 0]), pa.array(x[:, 1], mask=np.arange(rows) % 4 == 0), pa.array(x[:, 2])]
    return pa.Table.from_arrays(columns, names=["a", "b", "c"])


def test_every_kind_of_chunk_reads_back_bit_for_bit():
    # GIVEN an Arrow table with nulls, a row-major array with a weight, and a CSR matrix
    table = _table(50, 1)
    array = np.random.default_rng(2).standard_normal((7, 4)).astype(np.float32)
    csr = sp.csr_matrix(np.array([[0, 1.5, 0], [2.0, 0, 0]], dtype=np.float32))
    label = np.arange(50, dtype=np.float32)
    keep = spill.ChunkSpill(limit_bytes=1 << 20)
    # WHEN they are spilled and read back
    assert keep.append(label, None, table)
    assert keep.append(label[:7], label[:7] * 2, array)
    assert keep.append(label[:2], None, csr)
    got_table, got_array, got_csr = (keep.read(i) for i in range(3))
    # THEN the values, names, weights and missing cells are those written (a null comes back as NaN)
    assert got_table[2].column_names == ["a", "b", "c"]
    expected_b = table.column("b").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(got_table[2].column("b").to_numpy(), expected_b)
    assert np.isnan(got_table[2].column("b").to_numpy()[::4]).all()
    np.testing.assert_array_equal(got_table[0], label)
    np.testing.assert_array_equal(got_array[2], array)
    np.testing.assert_array_equal(got_array[1], label[:7] * 2)
    assert (got_csr[2] != csr).nnz == 0 and got_csr[2].shape == csr.shape
    keep.close()


def test_a_chunk_past_the_budget_is_refused():
    keep = spill.ChunkSpill(limit_bytes=500)
    assert not keep.append(np.zeros(50, np.float32), None, _table(50, 3))
    assert len(keep) == 0


def _iter(tmp_path, budget: int) -> ChannelIter:
    x = np.random.default_rng(5).standard_normal((3000, 4))
    y = (x[:, 0] > 0).astype(float)
    path = tmp_path / "train.csv"
    np.savetxt(path, np.column_stack([y, x]), delimiter=",", fmt="%.9g")
    return ChannelIter("train", [path], "csv", label_checker("binary:logistic", None), cache_bytes=budget)


def _model(matrix: xgb.DMatrix) -> bytes:
    booster = xgb.train({"tree_method": "hist", "max_depth": 3, "max_bin": 64, "seed": 0}, matrix, 5)
    return bytes(booster.save_raw("ubj"))


def test_spilled_walks_give_the_model_of_re_reading_the_files(tmp_path):
    # GIVEN one channel built with a spill file and one that re-reads the CSV on every walk
    spilled, streamed = _iter(tmp_path, 1 << 30), _iter(tmp_path, 0)
    # WHEN both are quantized
    from_spill, from_files = build_matrix(spilled, max_bin=64), build_matrix(streamed, max_bin=64)
    # THEN the spilled one parsed the file once, the other on every walk, and the models are identical
    assert spilled.streamed_passes == 1 and streamed.streamed_passes == 4
    assert _model(from_spill) == _model(from_files)


def test_a_full_disk_falls_back_to_re_reading_the_files(tmp_path, monkeypatch, capsys):
    # GIVEN a disk that fills up on the first chunk written
    def full(self, array):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(spill.ChunkSpill, "_write", full)
    it = _iter(tmp_path, 1 << 30)
    # WHEN the channel is quantized
    matrix = build_matrix(it, max_bin=64)
    # THEN every row is there, the files were read on each walk, and the log says why
    assert matrix.num_row() == 3000 and it.streamed_passes == 4
    assert "No space left on device" in capsys.readouterr().err
