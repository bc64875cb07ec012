"""The model directory: loadable by the AWS built-in image, carrying its inference code, kfold ensembles,
RecordIO-protobuf channels, and checkpoints that only their own trial resumes."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import xgboost as xgb
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import evaluate
import model_artifacts
from model_artifacts import read_metadata
from training_testkit import breast_cancer, channel, job_root, run_train, write_csv

HP = {"objective": "binary:logistic", "num_round": 6, "max_depth": 3, "eval_metric": "auc"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = job_root(tmp_path_factory.mktemp("dir") / "job", HP, {"train": "text/csv", "validation": "text/csv"})
    x, y = breast_cancer()
    write_csv(channel(root, "train") / "train.csv", x[:450], y[:450])
    write_csv(channel(root, "validation") / "valid.csv", x[450:], y[450:])
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return root


def _builtin_image_load(model_dir):
    """What the AWS built-in image's serve_utils.get_loaded_booster does: every regular file at the top of
    the model directory is a booster (pickle first, then xgboost's loader), anything else fails."""
    boosters = []
    for name in os.listdir(model_dir):
        path = os.path.join(model_dir, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                boosters.append(pickle.load(handle))
        except Exception:  # noqa: BLE001 - exactly the built-in's fallback
            booster = xgb.Booster()
            booster.load_model(path)  # raises on model-metadata.json: "cannot be loaded"
            boosters.append(booster)
    return boosters


def test_the_builtin_image_loads_our_model_directory(trained):
    model_dir = trained / "model"
    boosters = _builtin_image_load(model_dir)
    assert len(boosters) == 1 and boosters[0].num_boosted_rounds() == 6
    assert sorted(p.name for p in model_dir.iterdir()) == ["code", "metadata", "xgboost-model"]
    assert model_artifacts.model_files(model_dir) == [model_dir / "xgboost-model"]
    assert read_metadata(model_dir)["feature_count"] == 30


def test_code_folder_serves_the_model_with_nothing_else_on_the_path(trained, tmp_path):
    # GIVEN only the model directory (as extracted from model.tar.gz): code/ and the model
    code = trained / "model" / "code"
    names = {p.name for p in code.iterdir()}
    assert {"inference.py", "serve.py", "serving_codec.py", "serving_model.py"} <= names
    assert names == {p.name for p in model_artifacts.inference_code_files()}
    assert read_metadata(trained / "model")["code_files"] == sorted(names)
    # WHEN a fresh interpreter imports inference.py from code/ alone (the training folder not on the path)
    script = ("import sys, numpy as np; sys.path[:] = [p for p in sys.path if 'training_code' not in p]; "
              "import inference; m = inference.model_fn(sys.argv[1]); "
              "rows = inference.input_fn('1,' * 29 + '1', 'text/csv'); print(inference.predict_fn(rows, m).shape)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", script, str(trained / "model")], cwd=code, env=env,
                            capture_output=True, text=True, timeout=120)
    # THEN it loads the model and predicts
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("(1")


def test_code_files_follow_imports_transitively(tmp_path):
    (tmp_path / "inference.py").write_text("import helper_a\n")
    (tmp_path / "serve.py").write_text("try:\n    from helper_b import x\nexcept ImportError:\n    pass\n")
    (tmp_path / "helper_a.py").write_text("def f():\n    import helper_c\n")
    (tmp_path / "helper_b.py").write_text("import json\n")
    (tmp_path / "helper_c.py").write_text("")
    (tmp_path / "unrelated.py").write_text("")
    names = [p.name for p in model_artifacts.inference_code_files(tmp_path)]
    assert names == ["helper_a.py", "helper_b.py", "helper_c.py", "inference.py", "serve.py"]


def test_kfold_writes_the_ensemble_members_and_evaluate_scores_their_mean(tmp_path):
    # GIVEN _kfold and _num_cv_round as a built-in user sets them
    root = job_root(tmp_path / "job", HP | {"_kfold": 3, "_num_cv_round": 2}, {"train": "csv", "validation": "csv"})
    x, y = breast_cancer()
    write_csv(channel(root, "train") / "train.csv", x[:450], y[:450])
    write_csv(channel(root, "validation") / "valid.csv", x[450:], y[450:])
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    # THEN 3 x 2 members xgboost-model-0..5, all loadable by the built-in image's loader
    model_dir = root / "model"
    members = model_artifacts.model_files(model_dir)
    assert [p.name for p in members] == [f"xgboost-model-{i}" for i in range(6)]
    assert len(_builtin_image_load(model_dir)) == 6
    meta = read_metadata(model_dir)
    assert meta["ensemble"] == "mean" and [m["file"] for m in meta["members"]] == [p.name for p in members]
    # AND the cross-validated mean line comes last, read by the validation:auc regex
    cv_lines = [line for line in result.stdout.splitlines() if line.startswith("[6]\t")]
    assert len(cv_lines) == 3  # one per repetition, one over both
    # AND evaluate.py scores the ensemble (mean of member predictions)
    boosters = evaluate.load_boosters(model_dir)
    report = evaluate.evaluate(boosters, y[450:], x[450:])
    mean = np.mean([b.predict(xgb.DMatrix(x[450:])) for b in boosters], axis=0)
    from model_metrics import roc_auc
    assert report["binary_classification_metrics"]["auc"]["value"] == pytest.approx(roc_auc(y[450:], mean))


def test_model_files_refuses_a_mixed_or_gapped_directory(tmp_path):
    (tmp_path / "xgboost-model-0").write_bytes(b"x")
    (tmp_path / "xgboost-model-2").write_bytes(b"x")
    with pytest.raises(model_artifacts.ModelDirError, match=r"not numbered 0..1"):
        model_artifacts.model_files(tmp_path)
    (tmp_path / "xgboost-model").write_bytes(b"x")
    with pytest.raises(model_artifacts.ModelDirError, match="both"):
        model_artifacts.model_files(tmp_path)


def _record_classes():
    """aialgs.data.Record built by Google's protobuf from the schema SageMaker documents: an encoder
    independent of ours."""
    fdp = descriptor_pb2.FileDescriptorProto(name="record_test.proto", package="aialgs.data", syntax="proto2")
    tensor = fdp.message_type.add(name="Float32Tensor")
    for number, name, kind in ((1, "values", descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT),
                               (2, "keys", descriptor_pb2.FieldDescriptorProto.TYPE_UINT64),
                               (3, "shape", descriptor_pb2.FieldDescriptorProto.TYPE_UINT64)):
        field = tensor.field.add(name=name, number=number, type=kind,
                                 label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
        field.options.packed = True
    value = fdp.message_type.add(name="Value")
    value.field.add(name="float32_tensor", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                    type_name=".aialgs.data.Float32Tensor", label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    record = fdp.message_type.add(name="Record")
    for number, name in ((1, "features"), (2, "label")):
        entry = record.nested_type.add(name=f"{name.capitalize()}Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
        entry.field.add(name="value", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                        type_name=".aialgs.data.Value", label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
        record.field.add(name=name, number=number, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                         type_name=f".aialgs.data.Record.{name.capitalize()}Entry",
                         label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


def _recordio(x, y, sparse_rows=()):
    import struct

    record_cls = _record_classes()
    out = bytearray()
    for i, (row, label) in enumerate(zip(x, y, strict=True)):
        record = record_cls()
        tensor = record.features["values"].float32_tensor
        if i in sparse_rows:
            keys = np.flatnonzero(row)
            tensor.values.extend(row[keys].tolist())
            tensor.keys.extend(keys.tolist())
            tensor.shape.append(len(row))
        else:
            tensor.values.extend(row.tolist())
        record.label["values"].float32_tensor.values.append(float(label))
        payload = record.SerializeToString()
        out += struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * (-len(payload) % 4)
    return bytes(out)


def test_recordio_protobuf_channel_trains_like_the_same_rows_in_csv(tmp_path):
    # GIVEN the same rows as RecordIO-protobuf (some records sparse) and as CSV
    x, y = breast_cancer()
    x = x.astype(np.float32)
    x[::7, 3] = 0.0
    proto = job_root(tmp_path / "proto", HP, {"train": "application/x-recordio-protobuf",
                                              "validation": "application/x-recordio-protobuf"})
    for name, rows in (("train", slice(0, 450)), ("validation", slice(450, None))):
        channel(proto, name).mkdir(parents=True)
        (channel(proto, name) / "data.pbr").write_bytes(_recordio(x[rows], y[rows], sparse_rows=range(0, 450, 5)))
    csv = job_root(tmp_path / "csv", HP, {"train": "text/csv", "validation": "text/csv"})
    write_csv(channel(csv, "train") / "t.csv", x[:450], y[:450])
    write_csv(channel(csv, "validation") / "v.csv", x[450:], y[450:])
    for root in (proto, csv):
        result = run_train(root)
        assert result.returncode == 0, result.stderr
    # THEN both models are the same
    assert read_metadata(proto / "model")["metrics"] == read_metadata(csv / "model")["metrics"]


def test_a_trial_never_resumes_another_trials_checkpoint(tmp_path):
    # GIVEN trial A checkpointed into the shared folder (every trial of a tuning job gets the same S3Uri)
    x, y = breast_cancer()
    hp_a = HP | {"num_round": 20, "checkpoint_frequency": 5, "eta": 0.3}
    shared = tmp_path / "shared-checkpoints"
    env = {"SM_CHECKPOINT_DIR": str(shared)}

    def trial(name, hp):
        root = job_root(tmp_path / name, hp, {"train": "csv", "validation": "csv"})
        write_csv(channel(root, "train") / "train.csv", x[:450], y[:450])
        write_csv(channel(root, "validation") / "valid.csv", x[450:], y[450:])
        result = run_train(root, env=env)
        assert result.returncode == 0, result.stderr
        return root, result

    trial("a", hp_a)
    a_files = sorted(p.name for p in shared.iterdir())
    assert len(a_files) == 2
    # WHEN trial B (other eta) starts with A's checkpoints in its folder
    b_root, b = trial("b", hp_a | {"eta": 0.1})
    # THEN B trains from scratch, leaves A's files alone, and equals B trained alone
    assert "resuming" not in b.stderr and "ignoring 2 checkpoint(s) of other hyperparameters or data" in b.stderr
    assert set(a_files) <= {p.name for p in shared.iterdir()}
    alone = job_root(tmp_path / "alone", hp_a | {"eta": 0.1}, {"train": "csv", "validation": "csv"})
    write_csv(channel(alone, "train") / "train.csv", x[:450], y[:450])
    write_csv(channel(alone, "validation") / "valid.csv", x[450:], y[450:])
    assert run_train(alone).returncode == 0
    assert read_metadata(b_root / "model")["metrics"] == read_metadata(alone / "model")["metrics"]
    # AND trial A, restarted (a spot interruption), resumes its own checkpoint
    _, again = trial("a-again", hp_a)
    assert "resuming from checkpoint at round 20" in again.stderr


def test_fingerprint_changes_with_hyperparameters_and_data_not_with_operational_settings(tmp_path):
    from checkpoint_fingerprint import fingerprint

    data = write_csv(tmp_path / "a.csv", *breast_cancer())
    other = write_csv(tmp_path / "b.csv", *[arr[:-1] for arr in breast_cancer()])
    base = fingerprint({"eta": 0.3, "num_round": 10}, {"train": [data]})
    assert base == fingerprint({"eta": 0.3, "num_round": 10, "checkpoint_frequency": 1, "nthread": 2},
                               {"train": [data]})
    assert base != fingerprint({"eta": 0.2, "num_round": 10}, {"train": [data]})
    assert base != fingerprint({"eta": 0.3, "num_round": 10}, {"train": [other]})
    assert base != fingerprint({"eta": 0.3, "num_round": 10}, {"validation": [data]})
    assert json.dumps(base) and len(base) == 16
