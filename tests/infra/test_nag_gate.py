"""The gate itself: an insecure resource fails synth under every pack; acknowledging needs a reason."""
from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from ml_platform import nag


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


def test_acknowledged_finding_no_longer_fails():
    app = cdk.App()
    stack = cdk.Stack(cdk.Stage(app, "Gate"), "Acknowledged")
    bucket = s3.Bucket(stack, "B", enforce_ssl=True)
    cdk.Validations.of(app).add_plugins(__import__("cdk_nag").AwsSolutionsChecks(app))
    for rule in ("AwsSolutions-S1",):
        nag.acknowledge(bucket, rule, "Test bucket: access logging is out of scope for this check")
    app.synth()


@pytest.mark.parametrize("rule,reason", [("AwsSolutions-S1", ""), ("AwsSolutions-S1", "because"),
                                         ("Made-Up-Rule", "a long enough reason for a reviewer to check")])
def test_acknowledge_refuses_missing_reason_or_unknown_rule(rule, reason):
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError):
        nag.acknowledge(s3.Bucket(stack, "B"), rule, reason)
