"""Every acknowledgment still matches a finding: stale acknowledgments fail here instead of rotting.

GIVEN the whole app (the delivery pipeline with the three environment stages nested in it, so every
construct of both `make synth` modes) built with `nag.acknowledge` recording instead of acknowledging,
WHEN it is synthesized with the four packs,
THEN every recorded (resource, rule) pair is among the findings the packs report.
"""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest

from ml_platform import nag
from ml_platform.config import ENVIRONMENTS, load_config, load_pipeline_config
from ml_platform.stacks.delivery_pipeline_stack import DeliveryPipelineStack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def acknowledged_and_found(tmp_path_factory, monkeypatch_module):
    recorded: set[tuple[str, str]] = set()

    def record(resource, rule_id: str, reason: str) -> None:
        target = resource.node.default_child or resource
        recorded.add((target.node.path, rule_id))

    monkeypatch_module.setattr(nag, "acknowledge", record)
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    context["@aws-cdk/core:failSynthOnValidationErrors"] = False
    outdir = tmp_path_factory.mktemp("unacknowledged")
    app = cdk.App(context=context, outdir=str(outdir))
    pipeline = load_pipeline_config()
    DeliveryPipelineStack(app, "Pipeline", config=pipeline, environments=[load_config(e) for e in ENVIRONMENTS],
                          availability_zones=[f"{pipeline.region}a"],
                          env=cdk.Environment(account=pipeline.account, region=pipeline.region))
    nag.add_rule_packs(app)
    try:
        app.synth()
    except RuntimeError as exc:  # every finding is now a violation; the report is what we read
        assert "ValidationFailed" in str(exc) or "Validation failed" in str(exc)
    report = json.loads((outdir / "validation-report.json").read_text())
    found = {(construct["constructPath"].lstrip("/"), violation["ruleName"])
             for plugin in report["pluginReports"] for violation in plugin["violations"]
             for construct in violation["violatingConstructs"]}
    return recorded, found


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_acknowledgments_were_recorded(acknowledged_and_found):
    recorded, _ = acknowledged_and_found
    assert any(rule.startswith("AwsSolutions-IAM5[") for _, rule in recorded)
    assert any(path.startswith("Pipeline/Prod/") for path, _ in recorded)


def test_no_acknowledgment_without_a_finding(acknowledged_and_found):
    recorded, found = acknowledged_and_found
    stale = sorted(recorded - found)
    assert stale == [], "\n".join(f"{path}: {rule}" for path, rule in stale)
