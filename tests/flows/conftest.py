"""Fixtures of the flow proofs: one synthesized assembly per session (as `cdk synth` writes it), one
authorization model per environment. `flowcheck` (evaluator, resolver, checks) lives beside these
tests; set FLOWS_CDK_OUT=<cdk.out> to reuse an assembly already synthesized from this tree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flowcheck.build import load_platform  # noqa: E402
from flowcheck.platform import Platform  # noqa: E402
from ml_platform.config import ENVIRONMENTS, load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def synth_like_the_cli(outdir: Path) -> Path:
    """Run app.py as `cdk synth` does (cdk.json context, framework not failing on validations)."""
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    context.update({"envs": "all", "@aws-cdk/core:failSynthOnValidationErrors": False})
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    env.pop("PYTEST_CURRENT_TEST", None)  # else the framework assumes an in-memory test app
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return outdir


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory) -> Path:
    given = os.environ.get("FLOWS_CDK_OUT")
    return Path(given) if given else synth_like_the_cli(tmp_path_factory.mktemp("flows-cdk-out"))


@pytest.fixture(scope="session")
def platforms(cdk_out) -> dict[str, Platform]:
    """env -> the authorization model of its synthesized stage (account and region from config)."""
    found = {}
    for env in ENVIRONMENTS:
        config = load_config(env)
        found[env] = load_platform(cdk_out / f"assembly-{env.capitalize()}", account=config.account,
                                   region=config.region)
    return found
