"""The SageMaker training pipeline's steps, run locally from the synthesized definition.

Processing steps run their `ContainerEntrypoint` + `ContainerArguments` with their inputs where
`LocalPath` says; training trials run as the AWS framework container's script mode starts them
(config files, SM_* environment, the submit directory from the code channel, `--name value`
arguments) with no network when the definition isolates them; the tuner's objective is read from
the trial's log with the definition's metric regexes (or the built-in algorithm's), so a metric line
the tuner could not see fails here.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rehearsal.local_s3 import LocalS3
from rehearsal.pipeline_expr import Expressions
from rehearsal.sandbox import run_in_job

NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


class StepFailed(RuntimeError):
    """A step failed as it would in SageMaker (non-zero exit, Fail step, missing objective)."""


@dataclass
class Execution:
    """One rehearsed pipeline execution."""

    root: Path
    s3: LocalS3
    expr: Expressions
    models: dict[str, dict] = field(default_factory=dict)
    registered: list[dict] = field(default_factory=list)
    transforms: list[dict] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    def job_root(self, name: str) -> Path:
        return self.root / "jobs" / name / "opt_ml"

    def base_env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        return {"PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": os.environ.get("HOME", "/root"),
                "AWS_REGION": "eu-west-1", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _in_job(job: Path, container_path: str) -> Path:
    if not container_path.startswith("/opt/ml/"):
        raise ValueError(f"container path outside /opt/ml: {container_path}")
    return job / container_path[len("/opt/ml/"):]


def run_processing(ex: Execution, step: dict) -> None:
    name, args = step["Name"], ex.expr.evaluate(step["Arguments"])
    job = ex.job_root(name)
    for item in args["ProcessingInputs"]:
        ex.s3.download(item["S3Input"]["S3Uri"], _in_job(job, item["S3Input"]["LocalPath"]))
    outputs = args["ProcessingOutputConfig"]["Outputs"]
    for item in outputs:
        _in_job(job, item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    app = args["AppSpecification"]
    env = dict(ex.base_env(), **app.get("Environment", {}))
    result = run_in_job(job, app["ContainerEntrypoint"] + app.get("ContainerArguments", []), env=env,
                        network_isolated=args["NetworkConfig"]["EnableNetworkIsolation"],
                        log=ex.root / "logs" / f"{name}.log")
    if result.returncode != 0:
        raise StepFailed(f"processing step {name} exited {result.returncode}:\n{result.stdout[-2000:]}")
    for item in outputs:
        ex.s3.upload(_in_job(job, item["S3Output"]["LocalPath"]), item["S3Output"]["S3Uri"])
    ex.expr.steps[name] = {"ProcessingOutputConfig": {"Outputs": {o["OutputName"]: o for o in outputs}}}
    for prop in step.get("PropertyFiles", []):
        uri = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == prop["OutputName"])
        ex.expr.property_files[(name, prop["PropertyFileName"])] = ex.s3.path(f"{uri.rstrip('/')}/{prop['FilePath']}")


def _trial_values(ranges: dict, count: int) -> list[dict[str, str]]:
    """`count` points spread over each range (log-spaced where the scaling is logarithmic)."""
    trials = []
    for t in range(count):
        q = (t + 1) / (count + 1)
        values: dict[str, str] = {}
        for r in ranges.get("ContinuousParameterRanges", []):
            lo, hi = float(r["MinValue"]), float(r["MaxValue"])
            v = math.exp(math.log(lo) + q * (math.log(hi) - math.log(lo))) if r.get("ScalingType") == "Logarithmic" else lo + q * (hi - lo)
            values[r["Name"]] = f"{v:.6g}"
        for r in ranges.get("IntegerParameterRanges", []):
            values[r["Name"]] = str(round(int(r["MinValue"]) + q * (int(r["MaxValue"]) - int(r["MinValue"]))))
        for r in ranges.get("CategoricalParameterRanges", []):
            values[r["Name"]] = r["Values"][t % len(r["Values"])]
        trials.append(values)
    return trials


def _objective_regex(definition: dict, metric: str) -> str:
    for m in definition["AlgorithmSpecification"].get("MetricDefinitions", []):
        if m["Name"] == metric:
            return m["Regex"]
    # No custom definitions: the built-in algorithm's own form, tabs shown by CloudWatch as #011.
    channel, _, name = metric.partition(":")
    return rf".*\[[0-9]+\].*#011{re.escape(channel)}-{re.escape(name)}:{NUMBER}.*"


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def run_training(ex: Execution, job_name: str, definition: dict, hyperparameters: dict[str, str]) -> Path:
    """One training job; returns the local model.tar.gz it produced (also 'uploaded')."""
    job = ex.job_root(job_name)
    channels = {}
    for channel in definition["InputDataConfig"]:
        source = channel["DataSource"]["S3DataSource"]
        ex.s3.download(source["S3Uri"], job / "input" / "data" / channel["ChannelName"])
        channels[channel["ChannelName"]] = {"TrainingInputMode": definition["AlgorithmSpecification"]["TrainingInputMode"],
                                            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                                            "RecordWrapperType": "None",
                                            **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {})}
    config = job / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    resources = {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
    (config / "resourceconfig.json").write_text(json.dumps(resources))
    for folder in ("model", "output/data", "checkpoints", "code"):
        (job / folder).mkdir(parents=True, exist_ok=True)
    command, env = _script_mode(job, hyperparameters, channels, ex.base_env())
    isolated = definition.get("EnableNetworkIsolation", False)
    result = run_in_job(job, command, env=env, network_isolated=isolated, log=ex.root / "logs" / f"{job_name}.log",
                        cwd="/opt/ml/code")
    if result.returncode != 0:
        failure = job / "output" / "failure"
        reason = failure.read_text() if failure.exists() else result.stdout[-2000:]
        raise StepFailed(f"training job {job_name} failed: {reason}")
    artifact = ex.s3.path(f"{definition['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job_name}/output/model.tar.gz")
    artifact.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(artifact, "w:gz") as tar:
        for item in sorted((job / "model").iterdir()):
            tar.add(item, arcname=item.name)
    return artifact


def _script_mode(job: Path, hyperparameters: dict[str, str], channels: dict, base_env: dict) -> tuple[list[str], dict]:
    """What the sagemaker-training toolkit does for a `sagemaker_program` job."""
    decoded = {k: _decoded(v) for k, v in hyperparameters.items()}
    program, submit = decoded.get("sagemaker_program"), decoded.get("sagemaker_submit_directory")
    if not program or not submit:
        raise StepFailed("the training definition names no sagemaker_program/sagemaker_submit_directory (script mode)")
    if str(submit).startswith("s3://"):
        raise StepFailed(f"the submit directory {submit} is in S3: a network-isolated job cannot download it")
    with tarfile.open(_in_job(job, str(submit))) as tar:
        tar.extractall(job / "code", filter="data")
    user = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
    args = [part for k, v in user.items() for part in (f"--{k}", v if isinstance(v, str) else json.dumps(v))]
    env = dict(base_env, SM_HPS=json.dumps(user), SM_CHANNELS=json.dumps(sorted(channels)),
               SM_MODEL_DIR="/opt/ml/model", SM_OUTPUT_DATA_DIR="/opt/ml/output/data", SM_OUTPUT_DIR="/opt/ml/output",
               SM_INPUT_DIR="/opt/ml/input", SM_INPUT_CONFIG_DIR="/opt/ml/input/config",
               SM_INPUT_DATA_CONFIG=json.dumps(channels), SM_CURRENT_HOST="algo-1", SM_HOSTS='["algo-1"]',
               SM_NUM_GPUS="0", SM_NUM_CPUS=str(os.cpu_count() or 1), SM_USER_ENTRY_POINT=str(program),
               SM_MODULE_DIR=str(submit), SM_NETWORK_INTERFACE_NAME="eth0", PYTHONPATH="/opt/ml/code")
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = f"/opt/ml/input/data/{name}"
    return ["python3", str(program), *args], env


def run_tuning(ex: Execution, step: dict) -> None:
    name, args = step["Name"], ex.expr.evaluate(step["Arguments"])
    config, definition = args["HyperParameterTuningJobConfig"], args["TrainingJobDefinition"]
    objective = config["HyperParameterTuningJobObjective"]
    regex = re.compile(_objective_regex(definition, objective["MetricName"]))
    count = min(2, int(config["ResourceLimits"]["MaxNumberOfTrainingJobs"]))
    results = []
    for index, values in enumerate(_trial_values(config["ParameterRanges"], count), start=1):
        job_name = f"rehearsal-tune-{index:03d}-{ex.expr.execution['PipelineExecutionId'][:8]}"
        # A tuning job passes the objective to every trial as `_tuning_objective_metric`.
        hps = {**definition.get("StaticHyperParameters", {}), **values,
               "_tuning_objective_metric": objective["MetricName"]}
        run_training(ex, job_name, definition, hps)
        log = (ex.root / "logs" / f"{job_name}.log").read_text().replace("\t", "#011")
        found = [float(m.group(1)) for line in log.splitlines() if (m := regex.search(line))]
        if not found:
            raise StepFailed(f"trial {job_name}: no line of its log matches the objective {objective['MetricName']} "
                             f"regex {regex.pattern!r}: the tuner would never see its objective")
        results.append((found[-1], job_name, values))
    results.sort(reverse=objective["Type"] == "Maximize")
    best = results[0]
    ex.report["tuning"] = {"objective": objective["MetricName"], "trials": [
        {"job": j, "objective": v, "hyperparameters": h} for v, j, h in results]}
    ex.expr.steps[name] = {"TrainingJobSummaries": [{"TrainingJobName": j} for _, j, _ in results],
                           "BestTrainingJob": {"TrainingJobName": best[1]}}


_COMPARE = {"GreaterThanOrEqualTo": lambda a, b: a >= b, "GreaterThan": lambda a, b: a > b,
            "LessThanOrEqualTo": lambda a, b: a <= b, "LessThan": lambda a, b: a < b, "Equals": lambda a, b: a == b}


def run_steps(ex: Execution, steps: list[dict], serve_model) -> None:
    """Run `steps` in order; `serve_model(ex, container, batch)` serves a model container."""
    for step in steps:
        kind = step["Type"]
        if kind == "Processing":
            run_processing(ex, step)
        elif kind == "Tuning":
            run_tuning(ex, step)
        elif kind == "Condition":
            args = step["Arguments"]
            ok = all(_COMPARE[c["Type"]](ex.expr.evaluate(c["LeftValue"]), ex.expr.evaluate(c["RightValue"]))
                     for c in args["Conditions"])
            ex.report.setdefault("conditions", {})[step["Name"]] = ok
            run_steps(ex, args["IfSteps"] if ok else args["ElseSteps"], serve_model)
        elif kind == "Fail":
            raise StepFailed(f"Fail step {step['Name']}: {ex.expr.evaluate(step['Arguments']['ErrorMessage'])}")
        elif kind == "RegisterModel":
            ex.registered.append(ex.expr.evaluate(step["Arguments"]))
        elif kind == "Model":
            model_name = f"rehearsal-{step['Name'].lower()}"
            ex.models[model_name] = ex.expr.evaluate(step["Arguments"])
            ex.expr.steps[step["Name"]] = {"ModelName": model_name}
        elif kind == "Transform":
            ex.transforms.append(ex.expr.evaluate(step["Arguments"]))
        else:
            raise StepFailed(f"the rehearsal does not know step type {kind} ({step['Name']})")
