"""The SageMaker Pipelines expression language, as far as our definition uses it:
`Get` (Parameters, Execution, Steps properties), `Std:Join`, `Std:JsonGet` on property files."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']+)'\]")


def _path(expression: str) -> list[str | int]:
    tokens: list[str | int] = []
    for name, index, key in _TOKEN.findall(expression):
        tokens.append(name or (int(index) if index else key))
    return tokens


class Expressions:
    """Values known so far in one rehearsed execution."""

    def __init__(self, parameters: list[dict], execution_id: str) -> None:
        self.parameters = {p["Name"]: p.get("DefaultValue") for p in parameters}
        self.execution = {"PipelineExecutionId": execution_id}
        self.steps: dict[str, dict] = {}
        self.property_files: dict[tuple[str, str], Path] = {}

    def get(self, expression: str) -> Any:
        head, *rest = _path(expression)
        if head == "Parameters":
            return self.parameters[rest[0]]
        if head == "Execution":
            return self.execution[rest[0]]
        if head == "Steps":
            step, *props = rest
            if props[:1] == ["PropertyFiles"]:
                return self.property_files[(step, props[1])]
            value: Any = self.steps[step]
            for p in props:
                value = value[p]
            return value
        raise KeyError(f"unsupported expression {expression!r}")

    def evaluate(self, value: Any) -> Any:
        """Resolve every expression inside `value`."""
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self.get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return join["On"].join(str(self.evaluate(v)) for v in join["Values"])
        if set(value) == {"Std:JsonGet"}:
            spec = value["Std:JsonGet"]
            document = json.loads(Path(self.evaluate(spec["PropertyFile"])).read_text())
            for part in _path(spec["Path"]):
                document = document[part]
            return document
        return {k: self.evaluate(v) for k, v in value.items()}
