#!/usr/bin/env python3
"""Synthesize two revisions and diff what reviewers and CloudFormation see.

    .venv/bin/python scripts/compare_synth.py REV_A REV_B [--report-only] [--keep DIR]

Each revision is checked out in a temporary git worktree (REV `WORKTREE` is the current checkout,
uncommitted changes included) that shares this checkout's `.venv` and `node_modules`, then
synthesized like `make synth`: every environment (`cdk synth -c envs=all`) and the delivery
pipeline mode (`-c pipeline=true`). Every template (`*.template.json`, nested assemblies too) and
every security report (`security-report-*.md`) is compared:

- identical: byte for byte;
- asset hashes only: equal once every 64-hex asset hash is masked (code of a Lambda, Glue script
  or training bundle changed, nothing else), reported separately with the hashes;
- different: the JSON paths that differ (templates) or a unified diff (reports).

Exit status 0 when everything is identical, 1 otherwise (`--report-only`: always 0 unless a
synth fails, which is 2).
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKTREE = "WORKTREE"
SHARED = (".venv", "node_modules")
MODES = {"cdk.out": ["-c", "envs=all"], "cdk.pipeline.out": ["-c", "pipeline=true"]}
ASSET_HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
MAX_PATHS = 25


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1",
               CDK_DISABLE_CLI_TELEMETRY="true", SAGEMAKER_VALIDATE_ROLE="false", PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.pop("ML_PLATFORM_CONFIG_DIR", None)
    return env


def _checkout(rev: str, workdir: Path) -> Path:
    """A worktree of `rev` with the shared .venv and node_modules linked in."""
    if rev == WORKTREE:
        return REPO
    target = workdir / f"rev-{re.sub(r'[^A-Za-z0-9_.-]', '_', rev)}"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(target), rev],
                   check=True)
    for name in SHARED:
        (target / name).symlink_to(REPO / name)
    return target


def _remove_checkout(checkout: Path) -> None:
    if checkout != REPO:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(checkout)], check=False)


def synthesize(rev: str, checkout: Path, outdir: Path) -> None:
    cdk = REPO / "node_modules" / ".bin" / "cdk"
    for folder, context in MODES.items():
        out = outdir / folder
        result = subprocess.run([str(cdk), "synth", "--quiet", *context, "-o", str(out)], cwd=checkout,
                                env=_env(), capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            sys.stderr.write(f"synth of {rev} ({' '.join(context)}) failed:\n{result.stderr[-4000:]}\n")
            raise SystemExit(2)


def _files(root: Path) -> dict[str, Path]:
    found = {}
    for pattern in ("*.template.json", "security-report-*.md"):
        for path in root.rglob(pattern):
            found[str(path.relative_to(root))] = path
    return found


def _json_diffs(a: object, b: object, path: str = "$") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a:
                yield f"{path}.{key}: added"
            elif key not in b:
                yield f"{path}.{key}: removed"
            else:
                yield from _json_diffs(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _json_diffs(x, y, f"{path}[{index}]")
    elif a != b:
        yield f"{path}: {json.dumps(a)[:120]} -> {json.dumps(b)[:120]}"


@dataclass
class Comparison:
    identical: list[str] = field(default_factory=list)
    assets_only: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    different: dict[str, list[str]] = field(default_factory=dict)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.assets_only or self.different or self.only_in_a or self.only_in_b)


def _asset_pairs(a: str, b: str) -> list[tuple[str, str]]:
    old, new = ASSET_HASH.findall(a), ASSET_HASH.findall(b)
    return sorted({(x, y) for x, y in zip(old, new, strict=False) if x != y})


def compare(root_a: Path, root_b: Path) -> Comparison:
    result = Comparison()
    files_a, files_b = _files(root_a), _files(root_b)
    result.only_in_a = sorted(set(files_a) - set(files_b))
    result.only_in_b = sorted(set(files_b) - set(files_a))
    for name in sorted(set(files_a) & set(files_b)):
        text_a, text_b = files_a[name].read_text(), files_b[name].read_text()
        if text_a == text_b:
            result.identical.append(name)
        elif ASSET_HASH.sub("<asset>", text_a) == ASSET_HASH.sub("<asset>", text_b):
            result.assets_only[name] = _asset_pairs(text_a, text_b)
        elif name.endswith(".json"):
            result.different[name] = list(_json_diffs(json.loads(text_a), json.loads(text_b)))
        else:
            result.different[name] = [line.rstrip("\n") for line in difflib.unified_diff(
                text_a.splitlines(), text_b.splitlines(), "before", "after", lineterm="", n=0)][2:]
    return result


def render(rev_a: str, rev_b: str, result: Comparison) -> str:
    total = len(result.identical) + len(result.assets_only) + len(result.different)
    lines = [f"compare_synth {rev_a} -> {rev_b}: {total} files compared (templates and security reports)",
             f"  identical:          {len(result.identical)}",
             f"  asset hashes only:  {len(result.assets_only)}",
             f"  different:          {len(result.different)}",
             f"  only before/after:  {len(result.only_in_a)}/{len(result.only_in_b)}"]
    for name in result.only_in_a:
        lines.append(f"ONLY BEFORE {name}")
    for name in result.only_in_b:
        lines.append(f"ONLY AFTER  {name}")
    for name, pairs in result.assets_only.items():
        lines.append(f"ASSETS {name}: " + ", ".join(f"{x[:12]}..->{y[:12]}.." for x, y in pairs))
    for name, diffs in result.different.items():
        lines.append(f"DIFF {name} ({len(diffs)} change(s))")
        lines += [f"    {d}" for d in diffs[:MAX_PATHS]]
        if len(diffs) > MAX_PATHS:
            lines.append(f"    ... {len(diffs) - MAX_PATHS} more")
    return "\n".join(lines)


def _synthesized(rev: str, outputs: Path, workdir: Path, *, reuse: bool) -> Path:
    """The synthesized output of `rev`; with --keep, a commit already synthesized there is reused."""
    label = WORKTREE if rev == WORKTREE else subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{rev}^{{commit}}"], check=True,
        capture_output=True, text=True).stdout.strip()
    root = outputs / label
    if reuse and label != WORKTREE and (root / ".complete").is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    checkout = _checkout(rev, workdir)
    try:
        synthesize(rev, checkout, root)
    finally:
        _remove_checkout(checkout)
    (root / ".complete").touch()
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev_a")
    parser.add_argument("rev_b", help=f"a revision, or {WORKTREE} for the current checkout")
    parser.add_argument("--report-only", action="store_true", help="exit 0 even when files differ")
    parser.add_argument("--keep", type=Path, help="keep the synthesized outputs under this folder (one per "
                        "commit, reused by later runs; WORKTREE is always synthesized again)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="compare-synth-"))
    outputs = args.keep or workdir
    try:
        roots = [_synthesized(rev, outputs, workdir, reuse=args.keep is not None)
                 for rev in (args.rev_a, args.rev_b)]
        result = compare(*roots)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)
    print(render(args.rev_a, args.rev_b, result))
    return 0 if result.clean or args.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
