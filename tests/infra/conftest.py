"""Fixtures that build the CDK app in memory, once per test session."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from constructs import IConstruct

from ml_platform.config import ENVIRONMENTS, load_config
from ml_platform.constants import KeyDomain
from ml_platform.stages.platform_stage import MlPlatformStage

# The same feature flags the CLI passes from cdk.json.
CDK_CONTEXT = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
}


def build_stage(environment: str) -> MlPlatformStage:
    app = cdk.App(context=CDK_CONTEXT)
    return MlPlatformStage(app, environment.capitalize(), config=load_config(environment))


def _key_users(stage, domain: KeyDomain) -> list[str]:
    """The role ARNs the domain key's policy lets use the key (statement UseByDomainRoles)."""
    keys = Template.from_stack(stage.security).find_resources("AWS::KMS::Key", {"Properties": {
        "Description": f"{stage.naming.prefix}: {domain.description}"}})
    (key,) = keys.values()
    (use,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "UseByDomainRoles"]
    return use["Condition"]["ArnEquals"]["aws:PrincipalArn"]


def _models_key_users(stage) -> list[str]:
    return _key_users(stage, KeyDomain.MODELS)


@pytest.fixture(scope="session")
def stages() -> dict[str, MlPlatformStage]:
    return {env: build_stage(env) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def dev_stage(stages) -> MlPlatformStage:
    return stages["dev"]


@pytest.fixture(scope="session")
def prod_stage(stages) -> MlPlatformStage:
    return stages["prod"]


_templates: dict[str, Template] = {}


def _template_of(stack: cdk.Stack) -> Template:
    if stack.node.path not in _templates:
        _templates[stack.node.path] = Template.from_stack(stack)
    return _templates[stack.node.path]


@pytest.fixture(scope="session")
def template_of():
    """`template_of(stack)`: the stack's template, synthesized once per session (stages are shared)."""
    return _template_of


_outputs: dict[int, tuple[cdk.Stack, dict]] = {}


def _reference(consumer: cdk.Stack, construct: IConstruct, attribute: str | None = "Arn") -> dict:
    """The exact value `consumer`'s template holds for `construct`'s `attribute` (`Ref` when None):
    `Fn::GetAtt`/`Ref` in its own stack, else the `Fn::ImportValue` of the one export of exactly that
    value in the producing stack (so an assertion names the resource itself, not a fragment of an ID)."""
    resource = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    producer = cdk.Stack.of(resource)
    logical_id = producer.get_logical_id(resource)
    value = {"Ref": logical_id} if attribute is None else {"Fn::GetAtt": [logical_id, attribute]}
    if producer is consumer:
        return value
    if id(producer) not in _outputs:  # by object: a test may build its own stage with the same paths
        _outputs[id(producer)] = (producer, Template.from_stack(producer).to_json().get("Outputs", {}))
    outputs = _outputs[id(producer)][1]
    exports = [o["Export"]["Name"] for o in outputs.values() if o.get("Value") == value and "Export" in o]
    assert len(exports) == 1, f"{producer.node.path} exports {value} {len(exports)} times"
    return {"Fn::ImportValue": exports[0]}


@pytest.fixture(scope="session")
def reference():
    """`reference(consumer_stack, construct, attribute="Arn")`: see `_reference`."""
    return _reference


def _service_principals(statements: list[dict]) -> set[str]:
    """The services a policy's statements name as principals (`Principal.Service`, one or a list)."""
    services: set[str] = set()
    for statement in statements:
        named = statement["Principal"].get("Service", []) if isinstance(statement.get("Principal"), dict) else []
        services |= {named} if isinstance(named, str) else set(named)
    return services


@pytest.fixture(scope="session")
def service_principals():
    """`service_principals(statements)`: see `_service_principals`."""
    return _service_principals


# Stands in for each token while the joined text is parsed: plain text inside a JSON string.
_TOKEN_MARK = re.compile(r"@@token(\d+)@@")


def _joined_json(value: str | dict) -> Any:
    """A JSON document CDK wrote as text joined with tokens (a state machine's definition, a dashboard body,
    an SDK call, an environment variable), parsed: each token comes back as its exact intrinsic, and a
    string with tokens inside as its `{"Fn::Join": ["", [...]]}`, so a test compares the one field with
    the value it must hold instead of searching the text."""
    if isinstance(value, str):
        return json.loads(value)
    separator, parts = value["Fn::Join"]
    assert separator == "", f"not a joined JSON document: {value}"
    tokens = [part for part in parts if not isinstance(part, str)]
    marks = iter(range(len(tokens)))
    text = "".join(part if isinstance(part, str) else f"@@token{next(marks)}@@" for part in parts)

    def restore(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: restore(item) for key, item in node.items()}
        if isinstance(node, list):
            return [restore(item) for item in node]
        if not isinstance(node, str) or not _TOKEN_MARK.search(node):
            return node
        split = _TOKEN_MARK.split(node)  # text, token number, text, ...
        pieces = [tokens[int(piece)] if i % 2 else piece for i, piece in enumerate(split) if piece != ""]
        return pieces[0] if len(pieces) == 1 else {"Fn::Join": ["", pieces]}

    return restore(json.loads(text))


@pytest.fixture(scope="session")
def joined_json():
    """`joined_json(value)`: see `_joined_json`."""
    return _joined_json


REPO = Path(__file__).resolve().parents[2]


def _synth_like_the_cli(outdir: Path, **context_values) -> Path:
    """Run app.py as `cdk synth` does: cdk.json context, no failing inside the framework."""
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    context.update({**context_values, "@aws-cdk/core:failSynthOnValidationErrors": False})
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    env.pop("PYTEST_CURRENT_TEST", None)  # else the framework assumes an in-memory test app
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return outdir


def _cfn_lint_errors(assembly: Path, min_templates: int) -> str:
    """cfn-lint as `make lint` runs it on every template of an assembly: '' when no error."""
    templates = sorted(str(p) for p in assembly.rglob("*.template.json"))
    assert len(templates) >= min_templates
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "--non-zero-exit-code", "error", "--ignore-checks", "W3010",
                             "--format", "parseable", *templates], capture_output=True, text=True, timeout=600)
    return "" if result.returncode == 0 else result.stdout[-4000:] + result.stderr[-2000:]


@pytest.fixture(scope="session")
def cfn_lint_errors():
    """`cfn_lint_errors(assembly, min_templates)`: cfn-lint's errors on the assembly, '' when none."""
    return _cfn_lint_errors


@pytest.fixture(scope="session")
def synth_like_the_cli():
    """`synth_like_the_cli(outdir, envs="all")` or `(outdir, pipeline="true")`: the assembly's folder."""
    return _synth_like_the_cli


@pytest.fixture(scope="session")
def models_key_users():
    """`models_key_users(stage)`: the role ARNs the stage's models key policy lets use the key."""
    return _models_key_users


@pytest.fixture(scope="session")
def key_users():
    """`key_users(stage, domain)`: the role ARNs the policy of the stage's `domain` key lets use the key."""
    return _key_users
