"""Training pipeline flows: the pipeline role starting each step's job (iam:PassRole, volume-key
grants), and each job's execution role reading its inputs and code, writing its outputs, using its keys,
pulling its image, writing its logs and attaching to the VPC. All read from the synthesized pipeline
definition."""
from __future__ import annotations

import pytest
from flowcheck.calls import assume, s3_read, s3_write
from flowcheck.flow import Flow, assert_authorized
from flowcheck.policy import Principal
from flowcheck.sagemaker import (
    JOB_LOGS,
    SAGEMAKER,
    caller_checks,
    container_runtime_checks,
    model_container_checks,
    pipeline_of,
    processing_runtime,
    steps,
    training_runtime,
    value,
)

from ml_platform.config import ENVIRONMENTS


def _step(platform, name):
    _, definition = pipeline_of(platform)
    return next(s for s in steps(definition) if s["Name"] == name), definition


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pipeline_role_starts_every_job(platforms, env):
    # GIVEN the synthesized pipeline, WHEN SageMaker Pipelines runs it as its role,
    # THEN the role may create every step's job, pass each job its role and grant its volume key.
    platform = platforms[env]
    role, definition = pipeline_of(platform)
    flow = Flow(f"{env}: pipeline role starts the jobs").add([assume(platform, SAGEMAKER, role)])
    for step in steps(definition):
        flow.add(caller_checks(platform, role, step))
    assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pipeline_role_starts_every_job_without_its_volume_keys(platforms, env):
    # The same calls minus the volume-key grants (defect 2): everything else must hold today.
    platform = platforms[env]
    role, definition = pipeline_of(platform)
    flow = Flow(f"{env}: pipeline role starts the jobs (volume grants aside)")
    for step in steps(definition):
        flow.add(c for c in caller_checks(platform, role, step) if c.action != "kms:CreateGrant")
    assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("step_name", ["Preprocess", "Evaluate"])
def test_processing_job_runs(platforms, env, step_name):
    platform = platforms[env]
    step, definition = _step(platform, step_name)
    role = Principal.role(step["Arguments"]["RoleArn"])
    flow = Flow(f"{env}: {step_name} job").add([assume(platform, SAGEMAKER, role)])
    assert_authorized(platform, flow.add(processing_runtime(platform, step["Arguments"], definition,
                                                            f"step {step_name}")))


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("step_name", ["Preprocess", "Evaluate"])
def test_processing_job_data_path(platforms, env, step_name):
    # Inputs, code and outputs alone (no volume grant): must hold on the current templates.
    platform = platforms[env]
    step, definition = _step(platform, step_name)
    checks = [c for c in processing_runtime(platform, step["Arguments"], definition, f"step {step_name}")
              if getattr(c, "action", "") != "kms:CreateGrant"]
    assert_authorized(platform, Flow(f"{env}: {step_name} data path", checks))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tuning_trials_train(platforms, env):
    platform = platforms[env]
    step, definition = _step(platform, "TuneXGBoost")
    job = step["Arguments"]["TrainingJobDefinition"]
    role = Principal.role(job["RoleArn"])
    flow = Flow(f"{env}: tuning trial").add([assume(platform, SAGEMAKER, role)])
    assert_authorized(platform, flow.add(training_runtime(platform, job, definition, "step TuneXGBoost")))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tuning_trials_data_path(platforms, env):
    platform = platforms[env]
    step, definition = _step(platform, "TuneXGBoost")
    checks = [c for c in training_runtime(platform, step["Arguments"]["TrainingJobDefinition"], definition,
                                          "step TuneXGBoost") if getattr(c, "action", "") != "kms:CreateGrant"]
    assert_authorized(platform, Flow(f"{env}: tuning trial data path", checks))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_batch_transform_of_the_test_set_runs(platforms, env):
    # The transform job runs as the model's execution role (the Model step's ExecutionRoleArn).
    platform = platforms[env]
    model_step, definition = _step(platform, "CreateModel")
    transform, _ = _step(platform, "BatchTransformTest")
    args, container = model_step["Arguments"], model_step["Arguments"]["PrimaryContainer"]
    role = Principal.role(args["ExecutionRoleArn"])
    resources = transform["Arguments"]["TransformResources"]
    flow = Flow(f"{env}: batch transform").add([assume(platform, SAGEMAKER, role)])
    flow.add(container_runtime_checks(platform, role, image=container["Image"], logs=JOB_LOGS["Transform"],
                                      vpc=args.get("VpcConfig"), volume_key=resources.get("VolumeKmsKeyId"),
                                      why="step BatchTransformTest"))
    flow.add(model_container_checks(platform, role, container, definition, "step BatchTransformTest"))
    # The transform reads its input and writes its output with the model's role.
    source = transform["Arguments"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    flow.add(s3_read(platform, role, value(source, definition), "step BatchTransformTest: input"))
    output = transform["Arguments"]["TransformOutput"]
    flow.add(s3_write(platform, role, value(output["S3OutputPath"], definition), "step BatchTransformTest: output",
                      output.get("KmsKeyId")))
    assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pipeline_role_cannot_create_a_tuning_job_without_network_isolation(platforms, env):
    # The tuning grant is scoped by what the job is, not by its name (issue 9 defect 9): the same
    # request for a job that is not network-isolated is denied.
    from dataclasses import replace

    platform = platforms[env]
    role, definition = pipeline_of(platform)
    (tuning,) = [s for s in steps(definition) if s["Type"] == "Tuning"]
    (create,) = [c for c in caller_checks(platform, role, tuning) if c.action == "sagemaker:CreateHyperParameterTuningJob"]
    assert create.decide(platform).allowed
    open_job = replace(create, context={**create.context, "sagemaker:NetworkIsolation": "false"})
    assert not open_job.decide(platform).allowed
