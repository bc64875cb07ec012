"""Synthesized templates -> concrete values: the intrinsic functions of one stage's stacks resolved
with the environment's account and region (from config), exports followed across stacks.

Physical names come from the properties that set them (`BucketName`, `RoleName`, ...); where
CloudFormation would generate a name, a stable stand-in `<stack>-<logical id>` is used (tests never
name it: they find resources by type and properties).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowcheck.conditions import UnsupportedPolicy

NO_VALUE = object()  # AWS::NoValue: the property is removed

# Type -> (property giving the physical name, ARN pattern from name / account / region).
_NAMES: dict[str, tuple[str, str]] = {
    "AWS::S3::Bucket": ("BucketName", "arn:aws:s3:::{name}"),
    "AWS::IAM::Role": ("RoleName", "arn:aws:iam::{account}:role/{name}"),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", "arn:aws:iam::{account}:policy/{name}"),
    "AWS::KMS::Key": ("", "arn:aws:kms:{region}:{account}:key/{name}"),
    "AWS::SNS::Topic": ("TopicName", "arn:aws:sns:{region}:{account}:{name}"),
    "AWS::SQS::Queue": ("QueueName", "arn:aws:sqs:{region}:{account}:{name}"),
    "AWS::Lambda::Function": ("FunctionName", "arn:aws:lambda:{region}:{account}:function:{name}"),
    "AWS::Logs::LogGroup": ("LogGroupName", "arn:aws:logs:{region}:{account}:log-group:{name}:*"),
    "AWS::Kinesis::Stream": ("Name", "arn:aws:kinesis:{region}:{account}:stream/{name}"),
    "AWS::KinesisFirehose::DeliveryStream": ("DeliveryStreamName",
                                             "arn:aws:firehose:{region}:{account}:deliverystream/{name}"),
    "AWS::Events::Rule": ("Name", "arn:aws:events:{region}:{account}:rule/{name}"),
    "AWS::Glue::Job": ("Name", "arn:aws:glue:{region}:{account}:job/{name}"),
    "AWS::Glue::Crawler": ("Name", "arn:aws:glue:{region}:{account}:crawler/{name}"),
    "AWS::Glue::SecurityConfiguration": ("Name", ""),
    "AWS::Glue::Workflow": ("Name", ""),
    "AWS::SageMaker::Pipeline": ("PipelineName", "arn:aws:sagemaker:{region}:{account}:pipeline/{name}"),
    "AWS::SageMaker::ModelPackageGroup": ("ModelPackageGroupName",
                                          "arn:aws:sagemaker:{region}:{account}:model-package-group/{name}"),
    "AWS::Athena::WorkGroup": ("Name", "arn:aws:athena:{region}:{account}:workgroup/{name}"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"),
    "AWS::ApiGateway::Stage": ("StageName", ""),
    "AWS::WAFv2::WebACL": ("Name", "arn:aws:wafv2:{region}:{account}:regional/webacl/{name}/id"),
    # Feature store, labeling, monitoring and workspaces resources (ARN formats: Service Authorization Reference).
    "AWS::Cognito::UserPool": ("UserPoolName", "arn:aws:cognito-idp:{region}:{account}:userpool/{name}"),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", "arn:aws:states:{region}:{account}:stateMachine:{name}"),
    "AWS::SageMaker::Workteam": ("WorkteamName", "arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/{name}"),
    "AWS::SageMaker::Workforce": ("WorkforceName", "arn:aws:sagemaker:{region}:{account}:workforce/{name}"),
    "AWS::SageMaker::FeatureGroup": ("FeatureGroupName", "arn:aws:sagemaker:{region}:{account}:feature-group/{name}"),
    "AWS::SageMaker::Domain": ("DomainName", "arn:aws:sagemaker:{region}:{account}:domain/{name}"),
    "AWS::Scheduler::Schedule": ("Name", "arn:aws:scheduler:{region}:{account}:schedule/default/{name}"),
    "AWS::SageMaker::DataQualityJobDefinition": (
        "JobDefinitionName", "arn:aws:sagemaker:{region}:{account}:data-quality-job-definition/{name}"),
    "AWS::SageMaker::ModelQualityJobDefinition": (
        "JobDefinitionName", "arn:aws:sagemaker:{region}:{account}:model-quality-job-definition/{name}"),
    "AWS::SageMaker::ModelBiasJobDefinition": (
        "JobDefinitionName", "arn:aws:sagemaker:{region}:{account}:model-bias-job-definition/{name}"),
    "AWS::SageMaker::ModelExplainabilityJobDefinition": (
        "JobDefinitionName", "arn:aws:sagemaker:{region}:{account}:model-explainability-job-definition/{name}"),
}


@dataclass
class Stack:
    name: str
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        return self.template.get("Resources", {})


@dataclass
class Stage:
    """The stacks of one environment, with a resolver for their intrinsic functions."""
    account: str
    region: str
    stacks: list[Stack]
    _exports: dict[str, tuple[Stack, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stack in self.stacks:
            for output in stack.template.get("Outputs", {}).values():
                if "Export" in output:
                    export = self.resolve(output["Export"]["Name"], stack)
                    self._exports[export] = (stack, output["Value"])

    # --- finding resources ----------------------------------------------------------------------
    def resources(self, type_name: str) -> Iterator[tuple[Stack, str, dict[str, Any]]]:
        """(stack, logical id, resource) of every resource of `type_name`, in every stack."""
        for stack in self.stacks:
            for logical_id, resource in stack.resources.items():
                if resource["Type"] == type_name:
                    yield stack, logical_id, resource

    def properties(self, stack: Stack, resource: Mapping[str, Any]) -> dict[str, Any]:
        """The resource's properties with every intrinsic function resolved."""
        return self.resolve(resource.get("Properties", {}), stack)

    # --- physical names and attributes ----------------------------------------------------------
    def physical_name(self, stack: Stack, logical_id: str) -> str:
        resource = stack.resources[logical_id]
        prop = _NAMES.get(resource["Type"], ("", ""))[0]
        value = resource.get("Properties", {}).get(prop) if prop else None
        return self.resolve(value, stack) if value is not None else f"{stack.name}-{logical_id}"

    def arn(self, stack: Stack, logical_id: str) -> str:
        resource_type = stack.resources[logical_id]["Type"]
        pattern = _NAMES.get(resource_type, ("", ""))[1]
        if not pattern:
            raise UnsupportedPolicy(f"no ARN pattern for {resource_type}")
        return pattern.format(name=self.physical_name(stack, logical_id), account=self.account, region=self.region)

    def ref(self, stack: Stack, logical_id: str) -> str:
        resource_type = stack.resources[logical_id]["Type"]
        name = self.physical_name(stack, logical_id)
        if resource_type in ("AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self.arn(stack, logical_id)
        if resource_type == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        return name

    def get_att(self, stack: Stack, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(stack, logical_id)
        if attribute in ("QueueName", "TopicName", "Name", "StreamName"):
            return self.physical_name(stack, logical_id)
        return f"{self.physical_name(stack, logical_id)}.{attribute}"

    # --- intrinsic functions --------------------------------------------------------------------
    def _pseudo(self, name: str, stack: Stack) -> Any:
        values = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack.name, "AWS::NoValue": NO_VALUE}
        if name not in values:
            raise UnsupportedPolicy(f"pseudo parameter {name} is not supported")
        return values[name]

    def _ref(self, name: str, stack: Stack) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(name, stack)
        if name in stack.resources:
            return self.ref(stack, name)
        raise UnsupportedPolicy(f"Ref to unknown {name!r} in {stack.name}")

    def _sub(self, value: Any, stack: Stack) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], self.resolve(value[1], stack))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(stack, logical_id, attribute)
            return str(self._ref(name, stack))
        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)

    def resolve(self, value: Any, stack: Stack) -> Any:
        """`value` with Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::ImportValue, Fn::Select, Fn::Split resolved."""
        if isinstance(value, list):
            items = [self.resolve(v, stack) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg, stack)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(stack, logical_id, attribute)
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self.resolve(arg[1], stack))
            if key == "Fn::Sub":
                return self._sub(arg, stack)
            if key == "Fn::ImportValue":
                name = self.resolve(arg, stack)
                if name not in self._exports:
                    raise UnsupportedPolicy(f"Fn::ImportValue {name!r}: no stack of this stage exports it")
                exporter, exported = self._exports[name]
                return self.resolve(exported, exporter)
            if key == "Fn::Select":
                items, index = self.resolve(arg[1], stack), int(self.resolve(arg[0], stack))
                # A part of an attribute this model only knows in outline (e.g. a Cognito domain's
                # URL): a placeholder, which no policy evaluated here depends on.
                return items[index] if index < len(items) else f"<part {index} of {items}>"
            if key == "Fn::Split":
                return str(self.resolve(arg[1], stack)).split(arg[0])
            if key.startswith("Fn::"):
                raise UnsupportedPolicy(f"intrinsic function {key} is not supported")
        resolved = {k: self.resolve(v, stack) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def load_stage(assembly: Path, *, account: str, region: str) -> Stage:
    """Every stack of one stage's nested assembly (`cdk.out/assembly-<Env>`), by its manifest."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = [Stack(artifact["properties"]["stackName"],
                    json.loads((assembly / artifact["properties"]["templateFile"]).read_text()))
              for artifact in manifest["artifacts"].values() if artifact["type"] == "aws:cloudformation:stack"]
    return Stage(account=account, region=region, stacks=stacks)
