"""Pure parts of the contract: hyperparameter typing, paths, channels, hosts, devices, the container entry."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from training_testkit import CODE, job_root

import entry
import hyperparams
import metric_definitions
from callbacks import format_round
from data_sources import detect_content_type, normalize_content_type
from sm_contract import TrainingError, channel_content_type, cluster, gpu_count, raw_hyperparameters, resolve_paths


def test_script_mode_strings_become_typed_values():
    typed = hyperparams.parse({"num_round": "50", "eta": "0.1", "objective": '"binary:logistic"',
                               "eval_metric": "auc,logloss", "max_depth": "6.0", "subsample": 1})
    assert typed["num_round"] == 50 and typed["eta"] == 0.1 and typed["max_depth"] == 6
    assert typed["objective"] == "binary:logistic" and typed["eval_metric"] == ["auc", "logloss"]
    params = hyperparams.booster_params(typed)
    assert "num_round" not in params and params["eta"] == 0.1 and "num_class" not in params


def test_sources_merge_in_order_script_mode_keys_dropped_tuning_objective_kept(tmp_path):
    # GIVEN script mode's own key in hyperparameters.json and a tuning job's objective in SM_HPS
    root = job_root(tmp_path, {"num_round": 5, "eta": 0.5, "sagemaker_program": "train.py"})
    env = {"SM_HPS": json.dumps({"num_round": 7, "_tuning_objective_metric": "validation:auc"})}
    # WHEN the sources are merged
    raw = raw_hyperparameters(resolve_paths(str(root), env={}), {"eta": "0.2"}, env=env)
    # THEN later sources win, sagemaker_* is gone and the tuning objective stays for the metric plan
    assert hyperparams.parse(raw) == hyperparams.parse(
        {"num_round": 7, "eta": "0.2", "_tuning_objective_metric": "validation:auc"})
    assert "sagemaker_program" not in raw


@pytest.mark.parametrize("raw,reason", [
    ({"max_dept": 3}, "unknown hyperparameter(s): max_dept"),
    ({"num_round": "2.5"}, "num_round='2.5' is not a valid int"),
    ({"subsample": 0}, "subsample=0.0 must be in (0, 1]"),
])
def test_bad_hyperparameters_are_rejected(raw, reason):
    with pytest.raises(TrainingError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        hyperparams.parse(raw)


def test_paths_follow_root_and_sm_overrides(tmp_path):
    paths = resolve_paths(str(tmp_path), env={"SM_MODEL_DIR": "/x/model"})
    assert paths.model_dir == Path("/x/model") and paths.failure_file == tmp_path / "output" / "failure"
    assert paths.checkpoint_dir == tmp_path / "checkpoints"
    assert resolve_paths(None, env={}).root == Path("/opt/ml")


def test_content_type_precedence(tmp_path):
    root = job_root(tmp_path, {}, {"train": "application/x-parquet"})
    paths = resolve_paths(str(root), env={})
    assert channel_content_type(paths, "train", env={}) == "application/x-parquet"
    assert channel_content_type(paths, "train", env={"SM_CHANNEL_TRAIN_CONTENT_TYPE": "text/csv"}) == "text/csv"
    assert normalize_content_type("text/csv; label_size=1") == "csv"
    assert detect_content_type([Path("a.parquet")], None) == "parquet"
    # No ContentType, no telling extension: libsvm, as the built-in reads it
    assert detect_content_type([Path("part-0000")], None) == "libsvm"
    assert normalize_content_type("csv") == "csv" and normalize_content_type("libsvm") == "libsvm"
    assert normalize_content_type("application/x-recordio-protobuf") == "recordio-protobuf"
    with pytest.raises(TrainingError, match="label_size must be 1"):
        normalize_content_type("text/csv;label_size=2")


def test_hosts_and_devices(tmp_path):
    root = job_root(tmp_path, {}, hosts=["algo-2", "algo-10", "algo-1"], current="algo-2")
    c = cluster(resolve_paths(str(root), env={}), env={})
    assert c.hosts == ("algo-1", "algo-2", "algo-10") and c.rank == 1 and c.size == 3
    env = {"SM_HOSTS": '["algo-1","algo-2"]', "SM_CURRENT_HOST": "algo-1"}
    assert cluster(resolve_paths(str(root), env={}), env=env).rank == 0
    assert gpu_count({"SM_NUM_GPUS": "4"}) == 4 and gpu_count({"SM_NUM_GPUS": "0"}) == 0


def test_round_line_is_xgboosts_native_line_and_metric_definitions_match_it():
    # GIVEN one round's evaluation log
    line = format_round(3, {"train": {"error": [0.2, 0.1]}, "validation": {"auc": [0.9], "f1": [0.25]}})
    # THEN the line is exactly what xgboost's own EvaluationMonitor prints
    assert line == "[3]\ttrain-error:0.10000\tvalidation-auc:0.90000\tvalidation-f1:0.25000"
    definitions = json.loads((CODE / "metric_definitions.json").read_text())
    assert definitions == metric_definitions.build() and len(definitions) <= 40
    regex = {d["Name"]: re.compile(d["Regex"]) for d in definitions}
    # AND our definitions read it raw and as CloudWatch shows it (tab as #011), never a prefix match
    for shown in (line, line.replace("\t", "#011")):
        assert float(regex["validation:auc"].match(shown).group(1)) == 0.9
        assert float(regex["train:error"].match(shown).group(1)) == 0.1
        assert float(regex["validation:f1"].match(shown).group(1)) == 0.25
        assert regex["validation:f1_binary"].match(shown) is None and regex["train:auc"].match(shown) is None
    # AND the built-in algorithm's own regex form (the definitions its tuning jobs use) reads the same line
    builtin = re.compile(r".*\[[0-9]+\].*#011validation-auc:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*")
    assert builtin.match(line.replace("\t", "#011")).group(1) == "0.90000"


def test_container_entry_dispatches_train_and_serve():
    assert entry.command_for(["train"])[1:] == [str(CODE / "train.py")]
    assert entry.command_for([])[1:] == [str(CODE / "train.py")]
    assert entry.command_for(["serve", "--port", "8080"])[1:] == [str(CODE / "serve.py"), "--port", "8080"]
    with pytest.raises(SystemExit, match="unknown command 'bash'"):
        entry.command_for(["bash"])
    dockerfile = (CODE / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python3", "/opt/ml/code/entry.py"]' in dockerfile
    assert "xgboost==3.2.0" in (CODE / "requirements-image.txt").read_text().splitlines()
    # Script mode would pip-install a requirements.txt at job start: impossible when network-isolated.
    assert not (CODE / "requirements.txt").exists()


def test_pinned_xgboost_matches_image_and_project_pins():
    import train

    pins = {f"xgboost=={train.PINNED_XGBOOST_VERSION}", f"xgboost-cpu=={train.PINNED_XGBOOST_VERSION}"}
    assert pins & set((CODE / "requirements-image.txt").read_text().splitlines())
    assert pins & set((CODE.parent / "requirements-dev.txt").read_text().splitlines())


def test_container_entry_really_execs_train(tmp_path):
    import subprocess
    import sys

    root = job_root(tmp_path, {"num_round": 2})  # no train channel: train.py must report it
    result = subprocess.run([sys.executable, str(CODE / "entry.py"), "train", "--root", str(root)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "channel 'train' is missing" in (root / "output" / "failure").read_text()


def test_device_choice(monkeypatch):
    import xgboost as xgb

    import train

    assert hyperparams.booster_params(hyperparams.parse({"tree_method": "gpu_hist"}))["device"] == "cuda"
    assert hyperparams.booster_params(hyperparams.parse({}))["tree_method"] == "hist"
    monkeypatch.setenv("SM_NUM_GPUS", "0")
    assert train.choose_device(hyperparams.parse({})) == "cpu"
    monkeypatch.setenv("SM_NUM_GPUS", "1")  # a GPU instance: cuda when this xgboost build has CUDA
    expected = "cuda" if xgb.build_info().get("USE_CUDA") else "cpu"
    assert train.choose_device(hyperparams.parse({})) == expected
