"""Step Functions state machines of the templates: their role, their parsed definition, and the
calls each Task state makes as that role (Step Functions Developer Guide, "IAM policies for
integrated services": AWS SDK integrations, Lambda invoke, SageMaker `.sync` jobs, nested
executions), for one concrete execution input.

A task's JSONPath parameters (`"Key.$": "States.Format('a/{}/b', $.jobName)"`) are evaluated on
the input the test gives (`values`); an integration this module does not know raises
`UnsupportedPolicy`, so every Task state of a definition is either checked or refused.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flowcheck.calls import Call, Check, pass_role, split_s3_uri, volume_key_grant
from flowcheck.conditions import UnsupportedPolicy
from flowcheck.platform import Platform
from flowcheck.policy import Principal
from flowcheck.sagemaker import SAGEMAKER, request_keys

STATES = "states.amazonaws.com"
# The managed rules Step Functions creates for `.sync` integrations (Developer Guide, "IAM policies
# for ... SageMaker / Step Functions").
SYNC_RULES = {"createTrainingJob": "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
              "createTransformJob": "StepFunctionsGetEventsForSageMakerTransformJobsRule",
              "startExecution": "StepFunctionsGetEventsForStepFunctionsExecutionRule"}
SAGEMAKER_JOBS = {"createTrainingJob": ("training-job", "TrainingJobName", "Training"),
                  "createTransformJob": ("transform-job", "TransformJobName", "Transform"),
                  "createModel": ("model", "ModelName", "Model")}
# Vended log delivery and X-Ray of a state machine with logging and tracing (no resource-level form).
MACHINE_RUNTIME = ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                   "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                   "logs:DescribeResourcePolicies", "logs:DescribeLogGroups", "xray:PutTraceSegments",
                   "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")


@dataclass
class StateMachine:
    arn: str
    role: Principal
    definition: dict[str, Any]
    properties: dict[str, Any]

    def task_states(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(name, state) of every Task state, inside Parallel branches and Map processors too."""
        def walk(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
            for name, state in states.items():
                if state["Type"] == "Task":
                    yield name, state
                for branch in state.get("Branches", []):
                    yield from walk(branch["States"])
                processor = state.get("ItemProcessor") or state.get("Iterator")
                if processor:
                    yield from walk(processor["States"])
        return walk(self.definition["States"])

    def runtime_checks(self, platform: Platform) -> list[Check]:
        checks: list[Check] = [Call(Principal.of_service(STATES), "sts:AssumeRole", self.role.arn,
                                    {"aws:SourceAccount": platform.account}, "Step Functions assumes the role")]
        if self.properties.get("TracingConfiguration", {}).get("Enabled"):
            checks += [Call(self.role, a, "*", {}, "tracing") for a in MACHINE_RUNTIME if a.startswith("xray:")]
        if self.properties.get("LoggingConfiguration", {}).get("Destinations"):
            checks += [Call(self.role, a, "*", {}, "log delivery") for a in MACHINE_RUNTIME if a.startswith("logs:")]
        return checks


def state_machines(platform: Platform) -> list[StateMachine]:
    stage, found = platform.stage, []
    for stack, logical_id, resource in stage.resources("AWS::StepFunctions::StateMachine"):
        props = stage.properties(stack, resource)
        found.append(StateMachine(stage.arn(stack, logical_id), Principal.role(props["RoleArn"]),
                                  json.loads(props["DefinitionString"]), props))
    return found


def machine_with_task(platform: Platform, resource_suffix: str) -> StateMachine:
    """The one state machine with a Task whose Resource ends with `resource_suffix`."""
    found = [m for m in state_machines(platform)
             if any(s["Resource"].endswith(resource_suffix) for _, s in m.task_states())]
    assert len(found) == 1, f"expected one state machine calling {resource_suffix}, found {len(found)}"
    return found[0]


# --- the execution's values -----------------------------------------------------------------------
def _path(expression: str, values: Mapping[str, Any]) -> Any:
    current: Any = values
    for part in expression.removeprefix("$.").split("."):
        if part == "$":
            continue
        part = part.split("[")[0]
        if not isinstance(current, Mapping) or part not in current:
            raise UnsupportedPolicy(f"JSONPath {expression} has no value in the execution input given")
        current = current[part]
    return current


def evaluate(expression: str, values: Mapping[str, Any]) -> Any:
    """`$.a.b` or `States.Format('...{}...', $.x, ...)` on the execution's values."""
    match = re.fullmatch(r"States\.Format\('((?:[^']|\\')*)',\s*(.+)\)", expression)
    if match:
        text, arguments = match.group(1), [a.strip() for a in match.group(2).split(",")]
        for argument in arguments:
            text = text.replace("{}", str(_path(argument, values)), 1)
        return text
    if expression.startswith("$."):
        return _path(expression, values)
    raise UnsupportedPolicy(f"intrinsic {expression} is not modelled")


def parameters(state: Mapping[str, Any], values: Mapping[str, Any], only: tuple[str, ...] = ()) -> Any:
    """The state's Parameters (those named in `only`, else all) with every `.$` key evaluated (the
    key loses its `.$`)."""
    def resolve(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k.removesuffix(".$"): evaluate(v, values) if k.endswith(".$") else resolve(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value
    given = state.get("Parameters", {})
    if only:
        given = {k: v for k, v in given.items() if k.removesuffix(".$") in only}
    return resolve(given)


# --- the calls of one task ------------------------------------------------------------------------
def task_calls(platform: Platform, machine: StateMachine, name: str, state: Mapping[str, Any],
               values: Mapping[str, Any]) -> list[Check]:
    """Every call Step Functions makes as the machine's role to run this Task state."""
    resource, role, why = state["Resource"], machine.role, f"state {name}"
    integration = resource.split(":::", 1)[1] if ":::" in resource else ""
    # A Lambda payload or a nested execution's input is not a request of the caller: only the
    # target's ARN matters (it is never a JSONPath in these definitions).
    if integration == "lambda:invoke" or resource.startswith("arn:aws:lambda:"):
        # The optimized integration names the function in Parameters, the legacy one (a Lambda
        # task whose result is the payload only) as the Resource itself.
        target = resource if resource.startswith("arn:aws:lambda:") else state["Parameters"]["FunctionName"]
        function = ":".join(str(target).split(":")[:7])
        return [Call(role, "lambda:InvokeFunction", function, {}, why)]
    base, _, pattern = integration.partition(".")
    service, _, action = base.partition(":")
    if service == "states" and action == "startExecution":
        target = state["Parameters"]["StateMachineArn"]
        execution = target.replace(":stateMachine:", ":execution:") + ":a1b2c3d4"
        checks: list[Check] = [Call(role, "states:StartExecution", target, {}, why)]
        if pattern.startswith("sync"):
            checks += [Call(role, f"states:{a}", execution, {}, f"{why}: .sync")
                       for a in ("DescribeExecution", "StopExecution")]
            checks += _sync_rule(platform, role, action, why)
        return checks
    # An object's body is not part of the request's authorization.
    args = parameters(state, values, ("Bucket", "Key", "SseKmsKeyId") if integration.endswith("s3:putObject") else ())
    if integration.startswith("aws-sdk:"):
        _, service, action = integration.split(":")
        return _sdk_calls(platform, role, service, action, args, why)
    if service == "sagemaker" and action in SAGEMAKER_JOBS:
        return _sagemaker_job(platform, role, action, args, sync=pattern.startswith("sync"), why=why)
    raise UnsupportedPolicy(f"{why}: integration {resource} is not modelled")


def _sdk_calls(platform: Platform, role: Principal, service: str, action: str, args: Mapping[str, Any],
               why: str) -> list[Check]:
    iam_action = f"{service}:{action[0].upper()}{action[1:]}"
    if service == "s3" and action == "putObject":
        obj = f"arn:aws:s3:::{args['Bucket']}/{args['Key']}"
        checks: list[Check] = [Call(role, "s3:PutObject", obj, {}, why)]
        key = args.get("SseKmsKeyId") or platform.key_of(obj)
        via = {"kms:ViaService": f"s3.{platform.region}.amazonaws.com"}
        return checks + [Call(role, "kms:GenerateDataKey", key, via, f"{why}: SSE-KMS")] if key else checks
    if service == "sagemaker" and action in ("createLabelingJob", "describeLabelingJob"):
        job = f"arn:aws:sagemaker:{platform.region}:{platform.account}:labeling-job/{args['LabelingJobName']}"
        checks = [Call(role, iam_action, job, {}, why)]
        if action == "createLabelingJob":
            checks.append(pass_role(role, args["RoleArn"], SAGEMAKER, f"{why}: RoleArn"))
        return checks
    raise UnsupportedPolicy(f"{why}: SDK integration {service}:{action} is not modelled")


def _sagemaker_job(platform: Platform, role: Principal, action: str, args: Mapping[str, Any], *, sync: bool,
                   why: str) -> list[Check]:
    kind, name_key, keys_kind = SAGEMAKER_JOBS[action]
    arn = f"arn:aws:sagemaker:{platform.region}:{platform.account}:{kind}/{args[name_key]}"
    checks: list[Check] = [Call(role, f"sagemaker:{action[0].upper()}{action[1:]}", arn,
                                request_keys(keys_kind, args), why)]
    passed = args.get("RoleArn") or args.get("ExecutionRoleArn")
    if passed:
        checks.append(pass_role(role, passed, SAGEMAKER, why))
    volume = (args.get("ResourceConfig") or args.get("TransformResources") or {}).get("VolumeKmsKeyId")
    if volume:
        checks.append(volume_key_grant(role, volume, "sagemaker", f"{why}: volume key"))
    if sync:
        describe = {"createTrainingJob": "DescribeTrainingJob", "createTransformJob": "DescribeTransformJob"}[action]
        checks.append(Call(role, f"sagemaker:{describe}", arn, {}, f"{why}: .sync"))
        checks += _sync_rule(platform, role, action, why)
    return checks


def _sync_rule(platform: Platform, role: Principal, action: str, why: str) -> list[Check]:
    rule = f"arn:aws:events:{platform.region}:{platform.account}:rule/{SYNC_RULES[action]}"
    return [Call(role, f"events:{a}", rule, {}, f"{why}: .sync rule") for a in ("PutTargets", "PutRule", "DescribeRule")]


def s3_object_of(uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    return f"arn:aws:s3:::{bucket}/{key}"
