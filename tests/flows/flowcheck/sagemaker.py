"""SageMaker jobs read from a pipeline definition (or a deployer's request): what the caller needs
to create each job, and what the job's execution role needs while it runs.

AWS sources: SageMaker Developer Guide, "SageMaker Roles" (CreateProcessingJob / CreateTrainingJob /
CreateTransformJob / CreateModel API: execution role permissions: S3 inputs and outputs, ECR pulls,
CloudWatch logs and metrics, VPC network interfaces) and "Data protection: KMS" (volume keys are
used through grants the job creates, `kms:CreateGrant` with `kms:GrantIsForAWSResource`; output
keys through `kms:GenerateDataKey`/`kms:Decrypt`).
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from flowcheck.calls import (
    Call,
    Check,
    image_pull,
    logs_write,
    pass_role,
    s3_read,
    s3_write,
    volume_key_grant,
    vpc_network_interfaces,
)
from flowcheck.platform import Platform
from flowcheck.policy import Principal

EXECUTION_ID = "kytlemm1lvpq"
SAGEMAKER = "sagemaker.amazonaws.com"
JOB_LOGS = {"Processing": "/aws/sagemaker/ProcessingJobs", "Training": "/aws/sagemaker/TrainingJobs",
            "Tuning": "/aws/sagemaker/TrainingJobs", "Transform": "/aws/sagemaker/TransformJobs"}


def pipeline_of(platform: Platform) -> tuple[Principal, dict[str, Any]]:
    """The training pipeline's role and its parsed definition (the one AWS::SageMaker::Pipeline)."""
    stage = platform.stage
    found = [stage.properties(stack, resource) for stack, _, resource in stage.resources("AWS::SageMaker::Pipeline")]
    assert len(found) == 1, f"expected one SageMaker pipeline, found {len(found)}"
    props = found[0]
    return Principal.role(props["RoleArn"]), json.loads(props["PipelineDefinition"]["PipelineDefinitionBody"])


def steps(definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every step, those inside conditions included."""
    def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for step in items:
            yield step
            if step["Type"] == "Condition":
                yield from walk(step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []))
    return walk(definition["Steps"])


def job_name(step: Mapping[str, Any]) -> str:
    """SageMaker Pipelines names a step's job `pipelines-<execution id>-<step name>-<random>`
    (as jobs show it, e.g. aws/amazon-sagemaker-examples#3106). Tuning job names (at most 32
    characters, issue 9 defect 9) follow no documented pattern; the pipeline role's tuning grant does
    not depend on the name (it is scoped by the request's isolation and encryption keys), so the
    `pipelines-` name used here proves nothing either way."""
    return f"pipelines-{EXECUTION_ID}-{step['Name']}-a1b2c3d4e5"


def value(expression: Any, definition: Mapping[str, Any]) -> Any:
    """A pipeline expression at run time: parameter defaults, the execution id, step properties."""
    if isinstance(expression, Mapping) and "Std:Join" in expression:
        join = expression["Std:Join"]
        return join["On"].join(str(value(v, definition)) for v in join["Values"])
    if not (isinstance(expression, Mapping) and "Get" in expression):
        return expression
    path: str = expression["Get"]
    if path == "Execution.PipelineExecutionId":
        return EXECUTION_ID
    if path.startswith("Parameters."):
        name = path.split(".", 1)[1]
        return next(p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == name)
    step_name, _, attribute = path[len("Steps."):].partition(".")
    step = next(s for s in steps(definition) if s["Name"] == step_name)
    if attribute.startswith("ProcessingOutputConfig.Outputs["):
        output = attribute.split("['", 1)[1].split("']", 1)[0]
        spec = next(o for o in step["Arguments"]["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == output)
        return value(spec["S3Output"]["S3Uri"], definition)
    if attribute.startswith("TrainingJobSummaries"):
        return "pipelines-trial-0001"
    if attribute == "ModelName":
        return job_name(step)
    raise KeyError(f"pipeline expression {path} is not modelled")


def _arn(platform: Platform, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{platform.region}:{platform.account}:{kind}/{name}"


def _flag(value: Any) -> str:
    return "true" if value is True or str(value).lower() == "true" else "false"


def request_keys(kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The SageMaker condition keys a Create* request carries (Service Authorization Reference), read
    from the request's own arguments: what the guardrail denies are evaluated on. A key the request
    does not set is absent."""
    keys: dict[str, Any] = {}
    if kind == "Processing":
        net, cluster = args.get("NetworkConfig", {}), args["ProcessingResources"]["ClusterConfig"]
        vpc, volume, output = net.get("VpcConfig"), cluster.get("VolumeKmsKeyId"), args["ProcessingOutputConfig"].get("KmsKeyId")
        isolation, encryption = net.get("EnableNetworkIsolation"), net.get("EnableInterContainerTrafficEncryption")
    elif kind in ("Tuning", "Training"):
        job = args["TrainingJobDefinition"] if kind == "Tuning" else args
        vpc, volume = job.get("VpcConfig"), job["ResourceConfig"].get("VolumeKmsKeyId")
        output = job["OutputDataConfig"].get("KmsKeyId")
        isolation, encryption = job.get("EnableNetworkIsolation"), job.get("EnableInterContainerTrafficEncryption")
    elif kind == "Model":
        vpc, volume, output, encryption = args.get("VpcConfig"), None, None, None
        isolation = args.get("EnableNetworkIsolation")
    elif kind == "Transform":
        vpc, isolation, encryption = None, None, None
        volume, output = args["TransformResources"].get("VolumeKmsKeyId"), args["TransformOutput"].get("KmsKeyId")
    else:
        return keys
    if vpc:
        keys.update({"sagemaker:VpcSubnets": list(vpc["Subnets"]), "sagemaker:VpcSecurityGroupIds": list(vpc["SecurityGroupIds"])})
    for key, present in (("sagemaker:VolumeKmsKey", volume), ("sagemaker:OutputKmsKey", output)):
        if present:
            keys[key] = present
    for key, flag in (("sagemaker:NetworkIsolation", isolation), ("sagemaker:InterContainerTrafficEncryption", encryption)):
        if flag is not None:
            keys[key] = _flag(flag)
    return keys


def caller_checks(platform: Platform, caller: Principal, step: Mapping[str, Any]) -> list[Check]:
    """What the pipeline role needs to start one step's job."""
    args, kind = step["Arguments"], step["Type"]
    why = f"step {step['Name']}"
    if kind == "Processing":
        job = _arn(platform, "processing-job", job_name(step))
        return [Call(caller, "sagemaker:CreateProcessingJob", job, request_keys(kind, args), why),
                pass_role(caller, args["RoleArn"], SAGEMAKER, why),
                volume_key_grant(caller, args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"], "sagemaker",
                                 f"{why}: volume key")]
    if kind == "Tuning":
        definition = args["TrainingJobDefinition"]
        # The request's own condition keys (Service Authorization Reference, Amazon SageMaker), which
        # the pipeline role's tuning statement (issue 9 defect 9) and the guardrails are evaluated on.
        return [Call(caller, "sagemaker:CreateHyperParameterTuningJob",
                     _arn(platform, "hyper-parameter-tuning-job", job_name(step)), request_keys(kind, args), why),
                pass_role(caller, definition["RoleArn"], SAGEMAKER, why),
                volume_key_grant(caller, definition["ResourceConfig"]["VolumeKmsKeyId"], "sagemaker",
                                 f"{why}: volume key")]
    if kind == "Model":
        return [Call(caller, "sagemaker:CreateModel", _arn(platform, "model", job_name(step)), request_keys(kind, args),
                     why),
                pass_role(caller, args["ExecutionRoleArn"], SAGEMAKER, why)]
    if kind == "Transform":
        return [Call(caller, "sagemaker:CreateTransformJob", _arn(platform, "transform-job", job_name(step)),
                     request_keys(kind, args), why),
                volume_key_grant(caller, args["TransformResources"]["VolumeKmsKeyId"], "sagemaker",
                                 f"{why}: volume key")]
    if kind == "RegisterModel":
        group = args["ModelPackageGroupName"]
        return [Call(caller, "sagemaker:CreateModelPackage", _arn(platform, "model-package", f"{group}/1"), {}, why),
                Call(caller, "sagemaker:DescribeModelPackageGroup", _arn(platform, "model-package-group", group), {},
                     why)]
    return []


def container_runtime_checks(platform: Platform, role: Principal, *, image: str, logs: str,
                             vpc: Mapping[str, Any] | None, volume_key: str | None, why: str) -> list[Check]:
    """What every job or model container needs from its execution role, whatever it runs (`vpc`:
    the request's VpcConfig, if any)."""
    checks: list[Check] = [*image_pull(platform, role, image, f"{why}: image"),
                           *logs_write(platform, role, logs, f"{why}: logs")]
    if vpc:
        checks += vpc_network_interfaces(platform, role, subnets=vpc["Subnets"],
                                         security_groups=vpc["SecurityGroupIds"], why=f"{why}: ENIs")
    if volume_key:
        checks.append(volume_key_grant(role, volume_key, "sagemaker", f"{why}: volume key"))
    return checks


def processing_runtime(platform: Platform, args: Mapping[str, Any], definition: Mapping[str, Any],
                       why: str) -> list[Check]:
    role = Principal.role(args["RoleArn"])
    cluster = args["ProcessingResources"]["ClusterConfig"]
    checks = container_runtime_checks(platform, role, image=args["AppSpecification"]["ImageUri"],
                                      logs=JOB_LOGS["Processing"], vpc=args.get("NetworkConfig", {}).get("VpcConfig"),
                                      volume_key=cluster.get("VolumeKmsKeyId"), why=why)
    for spec in args.get("ProcessingInputs", []):
        uri = value(spec["S3Input"]["S3Uri"], definition)
        checks += s3_read(platform, role, uri, f"{why}: input {spec['InputName']}")
    output_key = args["ProcessingOutputConfig"].get("KmsKeyId")
    for spec in args["ProcessingOutputConfig"]["Outputs"]:
        checks += s3_write(platform, role, value(spec["S3Output"]["S3Uri"], definition),
                           f"{why}: output {spec['OutputName']}", output_key)
    return checks


def training_runtime(platform: Platform, job: Mapping[str, Any], definition: Mapping[str, Any],
                     why: str) -> list[Check]:
    """One training job (a tuning trial): channels, checkpoints, model output."""
    role = Principal.role(job["RoleArn"])
    checks = container_runtime_checks(platform, role, image=job["AlgorithmSpecification"]["TrainingImage"],
                                      logs=JOB_LOGS["Training"], vpc=job.get("VpcConfig"),
                                      volume_key=job["ResourceConfig"].get("VolumeKmsKeyId"), why=why)
    for channel in job["InputDataConfig"]:
        uri = value(channel["DataSource"]["S3DataSource"]["S3Uri"], definition)
        checks += s3_read(platform, role, uri, f"{why}: channel {channel['ChannelName']}")
    output = job["OutputDataConfig"]
    checks += s3_write(platform, role, f"{value(output['S3OutputPath'], definition)}/pipelines-trial-0001/output",
                       f"{why}: model artifact", output.get("KmsKeyId"))
    if "CheckpointConfig" in job:
        uri = value(job["CheckpointConfig"]["S3Uri"], definition)
        checks += s3_write(platform, role, uri, f"{why}: checkpoints") + s3_read(platform, role, uri,
                                                                                   f"{why}: resume")
    return checks


def model_container_checks(platform: Platform, role: Principal, container: Mapping[str, Any],
                           definition: Mapping[str, Any], why: str) -> list[Check]:
    """A model container at start: its model data and, in script mode, its code download."""
    checks = s3_read(platform, role, value(container["ModelDataUrl"], definition), f"{why}: model data")
    submit = container.get("Environment", {}).get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if submit.startswith("s3://"):
        checks += s3_read(platform, role, submit, f"{why}: inference code (SAGEMAKER_SUBMIT_DIRECTORY)")
    return checks
