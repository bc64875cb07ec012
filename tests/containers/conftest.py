"""Proof 2 fixtures: the synthesized prod definitions, and one chain of real jobs run from them.

Each job runs once per session in the sandbox (no network, /opt/ml = its own root) and hands its
outputs to the next exactly where the definitions say SageMaker would put them: Preprocess ->
the tuning step's training job -> model.tar.gz -> Evaluate and the serving container.
"""
from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from container_layout import (
    container_path,
    features_table,
    place_code_input,
    processing_command,
    processing_input,
    processing_output,
)
from definitions import Synthesized
from sandbox import base_environment, require_sandbox, run_isolated


@pytest.fixture(scope="session")
def prod() -> Synthesized:
    """Prod: the environment whose models are network-isolated and trained on two hosts."""
    return Synthesized("prod")


@pytest.fixture(scope="session")
def sandboxed():
    require_sandbox()
    return run_isolated














@pytest.fixture(scope="session")
def preprocess_job(prod, sandboxed, tmp_path_factory):
    """The Preprocess step as its definition starts it, on features-zone Parquet."""
    step = prod.step("Preprocess")
    root = tmp_path_factory.mktemp("preprocess")
    data = container_path(root, processing_input(step, "input")["LocalPath"])
    data.mkdir(parents=True)
    pq.write_table(features_table(), data / "part-00000.parquet")
    code = processing_input(step, "code")
    place_code_input(prod, root, code["S3Uri"], code["LocalPath"])
    result = sandboxed(processing_command(step), root, base_environment())
    return step, root, result


def _hyperparameters(definition: dict) -> dict[str, str]:
    """Static hyperparameters plus one value per tuned range, as strings (as the tuner sends them)."""
    values = dict(definition["StaticHyperParameters"])
    ranges = definition.get("HyperParameterRanges") or {}
    for r in ranges.get("ContinuousParameterRanges", []):
        values[r["Name"]] = str((float(r["MinValue"]) + float(r["MaxValue"])) / 2)
    for r in ranges.get("IntegerParameterRanges", []):
        values[r["Name"]] = str((int(r["MinValue"]) + int(r["MaxValue"])) // 2)
    for r in ranges.get("CategoricalParameterRanges", []):
        values[r["Name"]] = r["Values"][0]
    return values


def training_definition(prod: Synthesized) -> dict:
    """The tuning step's TrainingJobDefinition, with its ranges moved in from the tuning config."""
    arguments = prod.step("TuneXGBoost")["Arguments"]
    return {**arguments["TrainingJobDefinition"],
            "HyperParameterRanges": arguments["HyperParameterTuningJobConfig"]["ParameterRanges"]}


@pytest.fixture(scope="session")
def training_job(prod, sandboxed, preprocess_job, tmp_path_factory):
    """One trial of the tuning step: the image's `train` entry under /opt/ml laid out as SageMaker
    lays it out (config files, one folder per channel, the code channel holding the code asset)."""
    definition = training_definition(prod)
    _, pre_root, pre_result = preprocess_job
    assert pre_result.returncode == 0, pre_result.stderr[-3000:]
    preprocess = prod.step("Preprocess")
    root = tmp_path_factory.mktemp("training")
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(_hyperparameters(definition)))
    channels = {}
    for channel in definition["InputDataConfig"]:
        name, source = channel["ChannelName"], channel["DataSource"]["S3DataSource"]
        channels[name] = {"TrainingInputMode": definition["AlgorithmSpecification"]["TrainingInputMode"],
                          "S3DistributionType": source["S3DataDistributionType"], "RecordWrapperType": "None",
                          **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {})}
        folder = root / "input" / "data" / name
        folder.mkdir(parents=True)
        uri = source["S3Uri"]
        if isinstance(uri, str):  # a literal object: the code asset
            (folder / uri.rsplit("/", 1)[-1]).write_bytes(prod.asset_file(uri).read_bytes())
        else:  # {"Get": "Steps.Preprocess...Outputs['<name>']..."}: that output's files
            output = uri["Get"].split("Outputs['", 1)[1].split("']", 1)[0]
            for f in container_path(pre_root, processing_output(preprocess, output)).iterdir():
                (folder / f.name).write_bytes(f.read_bytes())
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    # One host: the sandbox is one machine (multi-host collectives are tested in tests/runtime/training).
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}))
    container_path(root, definition["CheckpointConfig"]["LocalPath"]).mkdir(parents=True)
    env = {**base_environment(), "TRAINING_JOB_NAME": "pipelines-proof2-trial-001",
           **definition.get("Environment", {})}
    result = sandboxed([sys.executable, str(HERE / "xgboost_image.py"), "train"], root, env)
    return definition, root, result


@pytest.fixture(scope="session")
def model_archive(training_job, tmp_path_factory) -> Path:
    """model.tar.gz as SageMaker uploads it: the contents of /opt/ml/model at the archive root."""
    _, root, result = training_job
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    archive = tmp_path_factory.mktemp("s3") / "model.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted((root / "model").rglob("*")):
            tar.add(path, arcname=path.relative_to(root / "model").as_posix(), recursive=False)
    archive.write_bytes(buffer.getvalue())
    return archive
