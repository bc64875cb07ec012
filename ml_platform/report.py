"""The security report: what every cdk-nag pack found, and every acknowledgment with its reason.

Written per environment to `cdk.out/security-report-<env>.md` for reviewers who do not read CDK.
Sources: acknowledgments recorded in each stack's metadata (`aws:cdk:acknowledged-rules`) and
unacknowledged violations in `cdk.out/validation-report.json` (present when the gate failed).
Run as `python -m ml_platform.report cdk.out` or through app.py, which calls it after every synth.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_platform.config import ENVIRONMENTS
from ml_platform.nag import PACK_PREFIXES

_ACK_KEY = "aws:cdk:acknowledged-rules"
# CDK acknowledges some findings of its own built-in template checks on its own constructs.
_CFN_VALIDATE = "CloudFormation-Validate"
SOURCES = {**PACK_PREFIXES, _CFN_VALIDATE: "CloudFormation Validate (CDK built-in checks)"}


@dataclass(frozen=True)
class Acknowledgment:
    environment: str
    resource_path: str
    rule_id: str
    reason: str

    @property
    def pack(self) -> str:
        return pack_of(self.rule_id)


@dataclass(frozen=True)
class Violation:
    environment: str
    resource_path: str
    rule_id: str
    description: str

    @property
    def pack(self) -> str:
        return pack_of(self.rule_id)


def pack_of(rule_id: str) -> str:
    for prefix, name in SOURCES.items():
        if rule_id.startswith((f"{prefix}-", f"{prefix}::")):
            return name
    return "other"


# In pipeline mode (`-c pipeline=true`) each environment's Stage is nested in the pipeline stack.
_STAGE_NAMES = {env.capitalize() for env in ENVIRONMENTS}


def _environment_of(path: str) -> str:
    """`Dev` for `Dev/Network/...`; `Pipeline/Dev` for `Pipeline/Dev/Network/...`; `Pipeline` otherwise."""
    parts = path.strip("/").split("/")
    if len(parts) > 2 and parts[1] in _STAGE_NAMES:
        return f"{parts[0]}/{parts[1]}"
    return parts[0]


def _stack_metadata(assembly_dir: Path) -> list[dict[str, Any]]:
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    found = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "cdk:cloud-assembly":
            found += _stack_metadata(assembly_dir / artifact["properties"]["directoryName"])
        elif artifact.get("type") == "aws:cloudformation:stack":
            found.append(artifact.get("metadata", {}))
            meta_file = assembly_dir / f"{name}.metadata.json"
            if meta_file.is_file():
                found.append(json.loads(meta_file.read_text()))
    return found


def read_acknowledgments(outdir: Path) -> list[Acknowledgment]:
    acks = set()
    for metadata in _stack_metadata(Path(outdir)):
        for path, entries in metadata.items():
            for entry in entries:
                if entry.get("type") != _ACK_KEY:
                    continue
                for key, reason in entry.get("data", {}).items():
                    rule_id = key.removeprefix("Annotation::")
                    acks.add(Acknowledgment(_environment_of(path), path, rule_id, str(reason or "")))
    return sorted(acks, key=lambda a: (a.environment, a.pack, a.rule_id, a.resource_path))


def read_violations(outdir: Path) -> list[Violation]:
    report = Path(outdir) / "validation-report.json"
    if not report.is_file():
        return []
    found = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            if violation.get("severity", "error") != "error":
                continue
            for construct in violation.get("violatingConstructs", []):
                path = construct["constructPath"]
                found.append(Violation(_environment_of(path), path, violation["ruleName"],
                                       violation.get("description", "")))
    return found


def _rule_family(rule_id: str) -> str:
    # IAM5 findings carry the wildcard in brackets; group them under the rule.
    return rule_id.split("[", 1)[0]


def render(environment: str, acks: list[Acknowledgment], violations: list[Violation]) -> str:
    packs = list(SOURCES.values())
    lines = [f"# Security report: {environment}", "",
             "Every stack of this environment was checked by the cdk-nag packs below. A finding is "
             "either fixed, or acknowledged on the one resource it concerns with the reason shown. "
             "Unacknowledged errors fail `make synth`.", "",
             "| Pack | Rules with findings | Acknowledged findings | Unacknowledged errors |",
             "|---|---:|---:|---:|"]
    for pack in packs:
        pack_acks = [a for a in acks if a.pack == pack]
        pack_viol = [v for v in violations if v.pack == pack]
        rules = {_rule_family(a.rule_id) for a in pack_acks} | {_rule_family(v.rule_id) for v in pack_viol}
        lines.append(f"| {pack} | {len(rules)} | {len(pack_acks)} | {len(pack_viol)} |")
    status = "FAILED" if violations else "passed"
    lines += ["", f"Gate: **{status}** ({len(violations)} unacknowledged error(s), {len(acks)} acknowledgment(s)).", ""]
    if violations:
        lines += ["## Unacknowledged errors", "", "| Rule | Resource | Finding |", "|---|---|---|"]
        lines += [f"| `{v.rule_id}` | `{v.resource_path}` | {v.description} |" for v in violations]
        lines.append("")
    for pack in packs:
        pack_acks = [a for a in acks if a.pack == pack]
        if not pack_acks:
            continue
        lines += [f"## {pack}", "", "Rules with findings: " + ", ".join(
            f"`{rule}` ({count})" for rule, count in sorted(_count_by_rule(pack_acks).items())), "",
            "| Rule | Resource | Reason |", "|---|---|---|"]
        lines += [f"| `{a.rule_id}` | `{a.resource_path}` | {a.reason} |" for a in pack_acks]
        lines.append("")
    return "\n".join(lines)


def _count_by_rule(acks: list[Acknowledgment]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for ack in acks:
        counts[_rule_family(ack.rule_id)] += 1
    return counts


def write_reports(outdir: str | Path) -> list[Path]:
    """Write one Markdown report per environment found in the assembly; return their paths."""
    outdir = Path(outdir)
    if not (outdir / "manifest.json").is_file():
        return []
    acks, violations = read_acknowledgments(outdir), read_violations(outdir)
    environments = sorted({a.environment for a in acks} | {v.environment for v in violations})
    written = []
    for env in environments:
        path = outdir / f"security-report-{env.lower().replace('/', '-')}.md"
        path.write_text(render(env, [a for a in acks if a.environment == env],
                               [v for v in violations if v.environment == env]))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_reports(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"):
        print(f"security report: {written_path}")
