"""What the synthesized templates tell SageMaker to start, read back from the templates themselves.

`Synthesized` synthesizes one environment's stage in memory (as `cdk synth` does, with cdk.json's
context) and answers: the pipeline definition (the `PipelineDefinitionBody` of the
`AWS::SageMaker::Pipeline`, its `${Name}` placeholders filled with stand-in values), each step by
name, the staged file behind an asset S3 URI, and the deployer function's environment. CloudFormation
intrinsics are resolved to readable stand-ins (`<Logical.Attr>`), enough for code that only passes
such values through.
"""
from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from ml_platform.config import load_config
from ml_platform.stages.platform_stage import MlPlatformStage

REPO = Path(__file__).resolve().parents[2]
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")


def resolve(value: Any) -> Any:
    """CloudFormation intrinsics -> strings; everything else unchanged (recursively)."""
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return f"<{arg}>"
        if key == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if key == "Fn::ImportValue":
            return f"<{resolve(arg)}>"
        if key == "Fn::Join":
            return str(arg[0]).join(str(resolve(v)) for v in arg[1])
        if key == "Fn::Sub":
            body, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            values = {k: str(resolve(v)) for k, v in names.items()}
            return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), f"<{m.group(1)}>"), body)
    return {k: resolve(v) for k, v in value.items()}


class Synthesized:
    """One environment's synthesized stage (`environment` as in config/<environment>.yaml)."""

    def __init__(self, environment: str) -> None:
        context = json.loads((REPO / "cdk.json").read_text())["context"]
        self.config = load_config(environment)
        self.app = cdk.App(context=context)
        self.stage = MlPlatformStage(self.app, environment.capitalize(), config=self.config)
        self.assembly_dir = Path(self.stage.synth().directory)

    def template(self, stack_suffix: str) -> dict:
        """The template of the stack whose construct id ends with `stack_suffix` (e.g. 'Training')."""
        stacks = [c for c in self.stage.node.children
                  if isinstance(c, cdk.Stack) and c.node.id.endswith(stack_suffix)]
        assert len(stacks) == 1, f"expected one stack named *{stack_suffix}, found {[s.node.id for s in stacks]}"
        return Template.from_stack(stacks[0]).to_json()

    def resources(self, stack_suffix: str, resource_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.template(stack_suffix)["Resources"].items() if v["Type"] == resource_type}

    @cached_property
    def pipeline_definition(self) -> dict:
        """The training pipeline's definition as SageMaker receives it (placeholders resolved)."""
        (pipeline,) = self.resources("Training", "AWS::SageMaker::Pipeline").values()
        return json.loads(resolve(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]))

    def step(self, name: str) -> dict:
        """A pipeline step by name, looking inside condition steps too."""
        pending = list(self.pipeline_definition["Steps"])
        while pending:
            step = pending.pop()
            if step["Name"] == name:
                return step
            pending += step.get("Arguments", {}).get("IfSteps", []) + step.get("Arguments", {}).get("ElseSteps", [])
        raise KeyError(f"no step {name!r} in the pipeline definition")

    def parameter_default(self, name: str) -> Any:
        (parameter,) = [p for p in self.pipeline_definition["Parameters"] if p["Name"] == name]
        return parameter["DefaultValue"]

    def asset_file(self, s3_uri: str) -> Path:
        """The staged file that `cdk deploy` uploads to `s3_uri` (an asset URI in a definition)."""
        asset_hash = s3_uri.rsplit("/", 1)[-1].split(".", 1)[0]
        found = sorted(self.assembly_dir.parent.glob(f"asset.{asset_hash}*")) + sorted(
            self.assembly_dir.glob(f"asset.{asset_hash}*"))
        assert found, f"no staged asset for {s3_uri} next to {self.assembly_dir}"
        return found[0]

    def function_environment(self, stack_suffix: str, marker: str) -> dict[str, str]:
        """The environment of the one Lambda function in the stack that has variable `marker`."""
        matches = [resolve(f["Properties"]["Environment"]["Variables"])
                   for f in self.resources(stack_suffix, "AWS::Lambda::Function").values()
                   if marker in f["Properties"].get("Environment", {}).get("Variables", {})]
        assert len(matches) == 1, f"expected one function with {marker} in {stack_suffix}, found {len(matches)}"
        return matches[0]
