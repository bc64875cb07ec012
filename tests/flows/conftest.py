"""Fixtures of the flow proofs: one synthesized assembly per session (as `cdk synth` writes it), one
authorization model per environment. `flowcheck` (evaluator, resolver, checks) lives beside these
tests; set FLOWS_CDK_OUT=<cdk.out> to reuse an assembly already synthesized from this tree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flowcheck.build import load_platform  # noqa: E402
from flowcheck.platform import Platform  # noqa: E402

from ml_platform.config import ENVIRONMENTS, load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def synth_like_the_cli(outdir: Path, *, pipeline: bool = False) -> Path:
    """Run app.py as `cdk synth` does (cdk.json context, framework not failing on validations);
    `pipeline`: the delivery-pipeline mode (`-c pipeline=true`, as `make synth` writes cdk.pipeline.out)."""
    settings = json.loads((REPO / "cdk.json").read_text())
    context = settings["context"]
    # What the CLI adds from its settings (contextFromSettings in CLI 2.1148): asset metadata is
    # how a function's code folder is found.
    context.update({"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True,
                    "aws:cdk:bundling-stacks": ["**"], "@aws-cdk/core:failSynthOnValidationErrors": False,
                    "envs": "all", "pipeline": "true" if pipeline else "false"})
    if settings.get("versionReporting") is False:
        context["aws:cdk:disable-version-reporting"] = True
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    env.pop("PYTEST_CURRENT_TEST", None)  # else the framework assumes an in-memory test app
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return outdir


def _assembly(reuse_variable: str, prefix: str, *, pipeline: bool) -> Iterator[Path]:
    """The assembly named by `reuse_variable` if set, else a fresh synth in a temporary folder (not
    under pytest's basetemp: concurrent pytest runs of the same user prune old basetemps)."""
    given = os.environ.get(reuse_variable)
    if given:
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield synth_like_the_cli(Path(folder), pipeline=pipeline)


@pytest.fixture(scope="session")
def cdk_out() -> Iterator[Path]:
    """Every environment's assembly (`cdk synth -c envs=all`); FLOWS_CDK_OUT reuses one."""
    yield from _assembly("FLOWS_CDK_OUT", "flows-cdk-out-", pipeline=False)


@pytest.fixture(scope="session")
def pipeline_out() -> Iterator[Path]:
    """The delivery-pipeline assembly (`cdk synth -c pipeline=true`); FLOWS_PIPELINE_OUT reuses one."""
    yield from _assembly("FLOWS_PIPELINE_OUT", "flows-pipeline-out-", pipeline=True)


@pytest.fixture(scope="session")
def platforms(cdk_out) -> dict[str, Platform]:
    """env -> the authorization model of its synthesized stage (account and region from config)."""
    found = {}
    for env in ENVIRONMENTS:
        config = load_config(env)
        found[env] = load_platform(cdk_out / f"assembly-{env.capitalize()}", account=config.account,
                                   region=config.region)
    return found
