"""Training stack: the pipeline definition JSON read back from the synthesized template."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_platform.config import load_config

REPO = Path(__file__).resolve().parents[2]


def _definition(template) -> tuple[dict, dict]:
    """(definition, Fn::Sub variables) of the stack's one SageMaker pipeline."""
    pipelines = template.find_resources("AWS::SageMaker::Pipeline")
    assert len(pipelines) == 1
    body, variables = next(iter(pipelines.values()))["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"]["Fn::Sub"]
    return json.loads(body), variables


@pytest.fixture(scope="module")
def dev(dev_stage, template_of):
    return _definition(template_of(dev_stage.training))


@pytest.fixture(scope="module")
def prod(prod_stage, template_of):
    return _definition(template_of(prod_stage.training))


def _steps(definition: dict) -> dict[str, dict]:
    steps = {}
    for step in definition["Steps"]:
        steps[step["Name"]] = step
        if step["Type"] == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                steps.update({s["Name"]: s for s in step["Arguments"][branch]})
    return steps


def _tuning(definition):
    return _steps(definition)["TuneXGBoost"]["Arguments"]


# --- structure ----------------------------------------------------------------------------------

def test_steps_in_order_and_branches(dev):
    definition, _ = dev
    assert [(s["Name"], s["Type"]) for s in definition["Steps"]] == [
        ("Preprocess", "Processing"), ("TuneXGBoost", "Tuning"), ("Evaluate", "Processing"),
        ("MonitoringBaseline", "Processing"), ("CheckModelQuality", "Condition")]
    condition = definition["Steps"][4]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in condition["IfSteps"]] == [
        ("RegisterModel", "RegisterModel"), ("CreateModel", "Model"), ("BatchTransformTest", "Transform")]
    assert [s["Type"] for s in condition["ElseSteps"]] == ["Fail"]
    # Data flows through step properties: tuning reads preprocess outputs, evaluation the best trial.
    channels = {c["ChannelName"]: c for c in _tuning(definition)["TrainingJobDefinition"]["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    assert set(channels) == {"train", "validation", "code"}
    preprocess = definition["Steps"][0]["Arguments"]["AppSpecification"]
    assert preprocess["ContainerArguments"] == ["--target-column", "is_fraud"]
    assert preprocess["ContainerEntrypoint"][-1] == "preprocess.py"


def test_pipeline_parameters_with_environment_defaults(dev, prod):
    for (definition, _), env, instance in ((dev, "dev", "ml.c5.xlarge"), (prod, "prod", "ml.p3.2xlarge")):
        params = {p["Name"]: p for p in definition["Parameters"]}
        assert set(params) == {"InputDataUri", "TrainingInstanceType", "TrainingInstanceCount"}
        assert params["TrainingInstanceType"]["DefaultValue"] == instance
        assert params["TrainingInstanceCount"]["DefaultValue"] == load_config(env).training.instance_count
        assert params["InputDataUri"]["DefaultValue"] == "s3://${Features}/training-ready/"
        resources = _tuning(definition)["TrainingJobDefinition"]["ResourceConfig"]
        assert resources["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
        assert resources["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}


def test_gpu_in_prod_cpu_elsewhere(dev, prod):
    assert load_config("prod").training.training_instance_type.startswith("ml.p3.")
    assert load_config("dev").training.training_instance_type.startswith("ml.c5.")
    for definition, _ in (dev, prod):
        for name in ("Preprocess", "Evaluate"):
            cluster = _steps(definition)[name]["Arguments"]["ProcessingResources"]["ClusterConfig"]
            assert cluster["InstanceType"].startswith("ml.c5.")


# --- tuning -------------------------------------------------------------------------------------

def test_bayesian_tuning_from_config(dev, prod):
    for (definition, _), env in ((dev, "dev"), (prod, "prod")):
        t = load_config(env).training
        config = _tuning(definition)["HyperParameterTuningJobConfig"]
        assert config["Strategy"] == "Bayesian"
        assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": t.tuning_max_jobs,
                                            "MaxParallelTrainingJobs": t.tuning_max_parallel_jobs}
        assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
        assert config["TrainingJobEarlyStoppingType"] == "Auto"
        names = {r["Name"] for group in config["ParameterRanges"].values() for r in group}
        assert names == {r.name for r in t.tuning_ranges}
        # The AWS XGBoost image is the built-in algorithm: no custom definitions (issue 9 defect 3).
        spec = _tuning(definition)["TrainingJobDefinition"]["AlgorithmSpecification"]
        assert "MetricDefinitions" not in spec


def test_script_mode_on_the_pinned_xgboost_image(dev):
    job = _tuning(dev[0])["TrainingJobDefinition"]
    assert job["AlgorithmSpecification"]["TrainingImage"] == \
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0"
    hps = job["StaticHyperParameters"]
    assert json.loads(hps["sagemaker_program"]) == "train.py"
    # Network isolation: the code comes in as the `code` channel, not from S3 at run time.
    assert json.loads(hps["sagemaker_submit_directory"]).startswith("/opt/ml/input/data/code/")
    assert hps["objective"] == "binary:logistic"


# --- security of every job ----------------------------------------------------------------------

def _jobs(definition):
    """(name, VpcConfig, KMS key fields) of every job the pipeline starts."""
    steps = _steps(definition)
    for name in ("Preprocess", "Evaluate"):
        a = steps[name]["Arguments"]
        yield name, a["NetworkConfig"]["VpcConfig"], [a["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"],
                                                      a["ProcessingOutputConfig"]["KmsKeyId"]]
    job = _tuning(definition)["TrainingJobDefinition"]
    yield "TuneXGBoost", job["VpcConfig"], [job["ResourceConfig"]["VolumeKmsKeyId"],
                                            job["OutputDataConfig"]["KmsKeyId"]]
    model = steps["CreateModel"]["Arguments"]
    transform = steps["BatchTransformTest"]["Arguments"]
    yield "BatchTransformTest", model["VpcConfig"], [transform["TransformResources"]["VolumeKmsKeyId"],
                                                     transform["TransformOutput"]["KmsKeyId"]]


def test_every_job_in_isolated_subnets_with_workload_sg_and_models_key(dev, prod):
    for (definition, variables), azs in ((dev, 2), (prod, 3)):
        subnets = [f"${{Subnet{i}}}" for i in range(azs)]
        for name, vpc, keys in _jobs(definition):
            assert vpc == {"SecurityGroupIds": ["${WorkloadSg}"], "Subnets": subnets}, name
            assert keys == ["${ModelsKey}", "${ModelsKey}"], name
        for i in range(azs):
            assert "IsolatedSubnet" in variables[f"Subnet{i}"]["Fn::ImportValue"]
        assert "WorkloadSecurityGroup" in variables["WorkloadSg"]["Fn::ImportValue"]
        assert "ModelsKey" in variables["ModelsKey"]["Fn::ImportValue"]


def test_training_is_network_isolated_and_encrypts_inter_container_traffic(dev, prod):
    for definition, _ in (dev, prod):
        job = _tuning(definition)["TrainingJobDefinition"]
        assert job["EnableNetworkIsolation"] is True
        assert job["EnableInterContainerTrafficEncryption"] is True
        for name in ("Preprocess", "Evaluate"):
            network = _steps(definition)[name]["Arguments"]["NetworkConfig"]
            assert network["EnableInterContainerTrafficEncryption"] is True


def test_managed_spot_with_max_wait_and_checkpoints(dev):
    t = load_config("dev").training
    job = _tuning(dev[0])["TrainingJobDefinition"]
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": t.max_runtime_seconds,
                                        "MaxWaitTimeInSeconds": t.max_wait_seconds}
    checkpoint = job["CheckpointConfig"]
    assert checkpoint["LocalPath"] == "/opt/ml/checkpoints"
    assert checkpoint["S3Uri"]["Std:Join"]["Values"][:3] == ["s3://${Artifacts}", "pipelines", "mlp-dev-training"]


# --- quality gate and registry ------------------------------------------------------------------

def test_condition_threshold_from_config(dev, prod):
    for (definition, _), env in ((dev, "dev"), (prod, "prod")):
        (condition,) = definition["Steps"][4]["Arguments"]["Conditions"]
        assert condition["Type"] == "GreaterThanOrEqualTo"
        assert condition["RightValue"] == load_config(env).training.min_auc_to_register
        assert condition["LeftValue"]["Std:JsonGet"] == {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": "binary_classification_metrics.auc.value"}
    report = dev[0]["Steps"][2]["PropertyFiles"]
    assert report == [{"PropertyFileName": "EvaluationReport", "OutputName": "evaluation",
                       "FilePath": "evaluation.json"}]


def test_register_pending_manual_approval_with_metrics(dev_stage, template_of, dev):
    args = _steps(dev[0])["RegisterModel"]["Arguments"]
    assert args["ModelApprovalStatus"] == "PendingManualApproval"
    assert args["ModelPackageGroupName"] == "mlp-dev-models"
    statistics = args["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"]["Std:Join"]["Values"][-1] == "evaluation.json"
    template_of(dev_stage.training).has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": "mlp-dev-models"})
