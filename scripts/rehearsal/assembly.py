"""Read one environment's synthesized cloud assembly: templates, exports, assets.

`synthesize` builds the Stage in-process exactly as `cdk synth` does (the feature flags of cdk.json),
without the nag packs; `Assembly` finds resources by type and resolves the few intrinsics the
rehearsal needs (Ref/GetAtt of buckets, Fn::ImportValue across the stage's stacks, Fn::Join).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[2]


def synthesize(environment: str, outdir: Path, log: Path) -> Path:
    """Synthesize the `environment` Stage into `outdir`; returns the nested assembly folder. What the
    framework prints while synthesizing (its validation report) goes to `log`."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    os.environ.setdefault("SAGEMAKER_VALIDATE_ROLE", "false")
    import aws_cdk as cdk

    from ml_platform.config import load_config
    from ml_platform.stages.platform_stage import MlPlatformStage

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    shutil.rmtree(outdir, ignore_errors=True)
    app = cdk.App(outdir=str(outdir), context=context)
    MlPlatformStage(app, environment.capitalize(), config=load_config(environment))
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            app.synth()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    return outdir / f"assembly-{environment.capitalize()}"


@dataclass(frozen=True)
class Resource:
    """One resource of one stack."""

    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]


class Assembly:
    """The templates of one Stage's nested assembly."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        manifest = json.loads((folder / "manifest.json").read_text())
        self.templates: dict[str, dict] = {}
        self.assets: dict[str, tuple[Path, str]] = {}
        for artifact in manifest["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                name = artifact["properties"]["templateFile"].removesuffix(".template.json")
                self.templates[name] = json.loads((folder / artifact["properties"]["templateFile"]).read_text())
            elif artifact["type"] == "cdk:asset-manifest":
                self._read_assets(folder / artifact["properties"]["file"])
        self.exports = self._exports()

    def _read_assets(self, path: Path) -> None:
        for asset in json.loads(path.read_text()).get("files", {}).values():
            source = asset["source"]
            if "path" not in source:
                continue
            for destination in asset["destinations"].values():
                self.assets[destination["objectKey"]] = (self.folder / source["path"], source.get("packaging", "file"))

    def _exports(self) -> dict[str, tuple[str, Any]]:
        exports = {}
        for stack, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if name:
                    exports[name] = (stack, output["Value"])
        return exports

    def resources(self, type_: str, stack_hint: str = "") -> Iterator[Resource]:
        """Every resource of CloudFormation type `type_` (in stacks whose name contains `stack_hint`)."""
        for stack, template in self.templates.items():
            if stack_hint not in stack:
                continue
            for logical_id, resource in template.get("Resources", {}).items():
                if resource["Type"] == type_:
                    yield Resource(stack, logical_id, type_, resource.get("Properties", {}))

    def one(self, type_: str, stack_hint: str = "", **match: Any) -> Resource:
        """The single resource of `type_` whose top-level properties equal `match`."""
        found = [r for r in self.resources(type_, stack_hint)
                 if all(r.properties.get(k) == v for k, v in match.items())]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} {match or ''} in the assembly, found {len(found)}")
        return found[0]

    def resolve(self, value: Any, stack: str) -> Any:
        """Resolve Ref (to a bucket name or a resource's Name), Fn::ImportValue, Fn::Join, Fn::GetAtt Arn
        of roles/functions (to a marker), recursively; anything else is returned as it is."""
        if isinstance(value, list):
            return [self.resolve(v, stack) for v in value]
        if not isinstance(value, dict):
            return value
        if "Fn::ImportValue" in value:
            exporting, exported = self.exports[self.resolve(value["Fn::ImportValue"], stack)]
            return self.resolve(exported, exporting)
        if "Ref" in value:
            resource = self.templates[stack]["Resources"].get(value["Ref"])
            if resource is None:
                return value
            props = resource.get("Properties", {})
            return props.get("BucketName") or props.get("Name") or props.get("TopicName") or value
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(p, stack)) for p in parts)
        if "Fn::GetAtt" in value:
            return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
        return {k: self.resolve(v, stack) for k, v in value.items()}

    def sub(self, value: Any, stack: str) -> str:
        """A `Fn::Sub` [template, variables] (or plain string) with its variables resolved."""
        if isinstance(value, str):
            return value
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        resolved = {k: str(self.resolve(v, stack)) for k, v in variables.items()}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: resolved.get(m.group(1), m.group(0)), text)

    def materialize_asset(self, object_key: str, target: Path) -> Path:
        """Write the asset published at `object_key` to `target` as the assets bucket would hold it."""
        source, packaging = self.assets[object_key]
        target.parent.mkdir(parents=True, exist_ok=True)
        if packaging == "zip" and source.is_dir():
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(p for p in source.rglob("*") if p.is_file()):
                    archive.write(file, file.relative_to(source).as_posix())
        else:
            shutil.copyfile(source, target)
        return target
