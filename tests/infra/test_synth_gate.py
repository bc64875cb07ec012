"""The whole app, every environment, through the same path as `make synth`: nag gate, report, cfn-lint."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_platform.nag import MIN_REASON_LENGTH, PACK_PREFIXES
from ml_platform.report import read_acknowledgments, read_violations


@pytest.fixture(scope="module")
def assembly(tmp_path_factory, synth_like_the_cli) -> Path:
    return synth_like_the_cli(tmp_path_factory.mktemp("cdk.out"), envs="all")


def test_no_unacknowledged_nag_error_in_any_environment(assembly):
    assert read_violations(assembly) == []


def test_every_pack_has_acknowledged_findings_in_every_environment(assembly):
    acks = read_acknowledgments(assembly)
    for env in ("Dev", "Staging", "Prod"):
        assert {a.pack for a in acks if a.environment == env} >= set(PACK_PREFIXES.values())


def test_every_acknowledgment_has_a_checkable_reason(assembly):
    acks = read_acknowledgments(assembly)
    assert acks, "expected some acknowledgments to be recorded"
    short = [a for a in acks if len(a.reason.strip()) < MIN_REASON_LENGTH]
    assert short == []
    assert [a for a in acks if a.pack == "other"] == []


def test_security_report_per_environment(assembly):
    for env in ("dev", "staging", "prod"):
        text = (assembly / f"security-report-{env}.md").read_text()
        assert "Gate: **passed**" in text
        for pack in PACK_PREFIXES.values():
            assert f"| {pack} |" in text
        assert "| Rule | Resource | Reason |" in text


def test_synth_needs_no_lookup(assembly):
    for manifest in assembly.rglob("manifest.json"):
        assert "missing" not in json.loads(manifest.read_text()), manifest


def test_cfn_lint_finds_no_error(assembly, cfn_lint_errors):
    assert cfn_lint_errors(assembly, min_templates=9) == ""
