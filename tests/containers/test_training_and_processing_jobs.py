"""GIVEN the synthesized prod pipeline definition WHEN each job is started as SageMaker starts it (the
step's own command line or the image's `train` entry, /opt/ml laid out from the definition, no
network) THEN it finds its code where the definition puts it and writes what the next step reads."""
from __future__ import annotations

import json
import re
import sys
import tarfile

import pytest
from container_layout import (
    HERE,
    container_path,
    place_code_input,
    processing_command,
    processing_input,
    processing_output,
)
from sandbox import base_environment

# The AWS XGBoost image's own metric regex (sagemaker_xgboost_container/algorithm_mode/metrics.py):
# xgboost's native evaluation line, its tabs written as '#011' in the job's log stream.
BUILT_IN_METRIC_REGEX = r".*\[[0-9]+\].*#011{name}:(\S+)"


def test_preprocess_step_splits_the_features_where_the_training_channels_read(preprocess_job):
    step, root, result = preprocess_job
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rows = {}
    for name in ("train", "validation", "test"):
        files = sorted(container_path(root, processing_output(step, name)).glob("*"))
        assert files, f"Preprocess wrote nothing under {processing_output(step, name)}"
        rows[name] = sum(len(f.read_text().splitlines()) for f in files)
    assert sum(rows.values()) == 569 and rows["train"] > rows["validation"] > 0


def test_training_job_is_network_isolated_and_runs_its_code_from_the_code_channel(training_job):
    definition, root, result = training_job
    assert definition["EnableNetworkIsolation"] is True
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    hyperparameters = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
    submit_directory = json.loads(hyperparameters["sagemaker_submit_directory"])
    assert submit_directory.startswith("/opt/ml/input/data/code/"), submit_directory
    assert (root / "code" / json.loads(hyperparameters["sagemaker_program"])).is_file()  # extracted by the toolkit
    assert (root / "model" / "xgboost-model").is_file()
    assert not (root / "output" / "failure").exists()


def test_the_tuning_objective_is_found_in_the_trial_log(training_job):
    """SageMaker reads the objective from the log with the request's MetricDefinitions, or, for the
    AWS image (a built-in algorithm: custom definitions refused), with the built-in's own regex."""
    definition, _, result = training_job
    objective = "validation:auc"
    log = (result.stdout + result.stderr).replace("\t", "#011")
    custom = {d["Name"]: d["Regex"] for d in definition["AlgorithmSpecification"].get("MetricDefinitions", [])}
    regex = custom.get(objective) or BUILT_IN_METRIC_REGEX.format(name=objective.replace(":", "-"))
    values = [float(v) for v in re.findall(regex, log)]
    assert values and 0.5 < values[-1] <= 1.0, f"no {objective} line matching {regex!r}"


def test_training_job_cannot_fetch_code_from_s3(training_job, prod, sandboxed, tmp_path):
    """The sandbox really has no network: a submit directory on S3 fails the job (defect 1's shape)."""
    definition, root, _ = training_job
    broken = tmp_path / "job"
    for folder in ("input/config", "input/data/train", "input/data/validation"):
        (broken / folder).mkdir(parents=True)
        for f in (root / folder).iterdir():
            (broken / folder / f.name).write_bytes(f.read_bytes())
    hyperparameters = json.loads((broken / "input/config/hyperparameters.json").read_text())
    code_uri = next(c for c in definition["InputDataConfig"] if c["ChannelName"] == "code")
    hyperparameters["sagemaker_submit_directory"] = json.dumps(
        code_uri["DataSource"]["S3DataSource"]["S3Uri"])
    (broken / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))
    result = sandboxed([sys.executable, str(HERE / "xgboost_image.py"), "train"], broken,
                       {**base_environment(), "AWS_DEFAULT_REGION": prod.config.region}, timeout=120)
    assert result.returncode != 0
    assert re.search(r"EndpointConnectionError|Could not connect|NoCredentialsError|Unable to locate credentials",
                     result.stderr), result.stderr[-2000:]


def test_evaluate_step_reads_the_model_archive_and_writes_the_condition_steps_metric(
        prod, sandboxed, preprocess_job, model_archive, tmp_path):
    step = prod.step("Evaluate")
    _, pre_root, _ = preprocess_job
    root = tmp_path / "evaluate"
    model = processing_input(step, "model")
    assert model["S3DataType"] == "S3Prefix"
    # The S3Uri names one object (…/output/model.tar.gz): SageMaker copies it by its base name.
    target = container_path(root, model["LocalPath"]) / "model.tar.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(model_archive.read_bytes())
    test_local = container_path(root, processing_input(step, "test")["LocalPath"])
    test_local.mkdir(parents=True)
    for f in container_path(pre_root, processing_output(prod.step("Preprocess"), "test")).iterdir():
        (test_local / f.name).write_bytes(f.read_bytes())
    code = processing_input(step, "code")
    place_code_input(prod, root, code["S3Uri"], code["LocalPath"])
    result = sandboxed(processing_command(step), root, base_environment())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (property_file,) = step["PropertyFiles"]
    report_dir = container_path(root, processing_output(step, property_file["OutputName"]))
    report = json.loads((report_dir / property_file["FilePath"]).read_text())
    (condition,) = prod.step("CheckModelQuality")["Arguments"]["Conditions"]
    value = report
    for key in condition["LeftValue"]["Std:JsonGet"]["Path"].split("."):
        value = value[key]
    assert 0.9 < value <= 1.0


@pytest.mark.parametrize("step_name", ["Preprocess", "Evaluate"])
def test_processing_code_input_is_the_archive_its_command_extracts(prod, step_name):
    """The command line names the code archive by the same base name the code input copies."""
    step = prod.step(step_name)
    code = processing_input(step, "code")
    archive = f"{code['LocalPath']}/{code['S3Uri'].rsplit('/', 1)[-1]}"
    assert archive in " ".join(processing_command(step))
    with tarfile.open(prod.asset_file(code["S3Uri"])) as tar:
        assert f"{step_name.lower()}.py" in tar.getnames()
