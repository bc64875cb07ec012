"""The gate itself: an insecure resource fails synth under every pack; acknowledging needs a reason."""
from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from ml_platform import nag
from ml_platform.report import read_acknowledgments, read_violations


def test_insecure_bucket_fails_every_pack():
    app = cdk.App()
    stack = cdk.Stack(cdk.Stage(app, "Gate"), "Insecure")
    s3.Bucket(stack, "Open")
    nag.add_rule_packs(app)
    with pytest.raises(RuntimeError) as caught:
        app.synth()
    message = str(caught.value)
    assert "ValidationFailed" in message or "Validation failed" in message
    for prefix in nag.PACK_PREFIXES:
        assert f"{prefix}-" in message, prefix


def _logging_off_bucket_app(acknowledge: bool, outdir: str | None = None) -> cdk.Stage:
    app = cdk.App(outdir=outdir)
    stage = cdk.Stage(app, "Gate")
    stack = cdk.Stack(stage, "Acknowledged")
    bucket = s3.Bucket(stack, "B", enforce_ssl=True)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    if acknowledge:
        nag.acknowledge(bucket, "AwsSolutions-S1", "Test bucket: access logging is out of scope for this check")
    return stage


def test_acknowledged_finding_no_longer_fails(tmp_path):
    # GIVEN a bucket without access logs: AwsSolutions-S1 fails synth
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        _logging_off_bucket_app(acknowledge=False).node.root.synth()
    # WHEN the finding is acknowledged on that bucket, THEN synth passes and records the reason
    _logging_off_bucket_app(acknowledge=True, outdir=str(tmp_path)).node.root.synth()
    assert read_violations(tmp_path) == []
    acknowledged = [(a.rule_id, a.reason) for a in read_acknowledgments(tmp_path)]
    assert acknowledged == [("AwsSolutions-S1", "Test bucket: access logging is out of scope for this check")]


@pytest.mark.parametrize("rule,reason", [("AwsSolutions-S1", ""), ("AwsSolutions-S1", "because"),
                                         ("Made-Up-Rule", "a long enough reason for a reviewer to check")])
def test_acknowledge_refuses_missing_reason_or_unknown_rule(rule, reason):
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError):
        nag.acknowledge(s3.Bucket(stack, "B"), rule, reason)
