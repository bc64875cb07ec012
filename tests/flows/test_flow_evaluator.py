"""The evaluator on the evaluation examples of AWS's documentation (IAM User Guide: policy evaluation
logic, single account and cross-account; condition operators and multi-valued keys; AWS KMS
Developer Guide: key policies), rewritten as tables: each row is a request and the documented answer."""
from __future__ import annotations

import pytest
from flowcheck.conditions import UnsupportedPolicy, conditions_hold
from flowcheck.evaluate import evaluate
from flowcheck.policy import Principal, Request

A, B = "111122223333", "444455556666"
CARLOS = Principal.role(f"arn:aws:iam::{A}:role/carlossalazar")


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


# IAM User Guide, "Example identity-based and resource-based policy evaluation": Carlos may list and
# use his own bucket; an explicit deny on any bucket named *log* beats the logs bucket's policy.
CARLOS_IDENTITY = doc(
    {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListAllMyBuckets"],
     "Resource": "arn:aws:s3:::*"},
    {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"})
LOGS_BUCKET_POLICY = doc(
    {"Effect": "Allow", "Principal": {"AWS": CARLOS.arn}, "Action": "s3:*",
     "Resource": ["arn:aws:s3:::carlossalazar-logs", "arn:aws:s3:::carlossalazar-logs/*"]})


@pytest.mark.parametrize("action, resource, bucket_policy, allowed", [
    ("s3:PutObject", "arn:aws:s3:::carlossalazar/report.csv", None, True),        # his bucket: identity allows
    ("s3:GetBucketLocation", "arn:aws:s3:::someone-else", None, True),            # AllowS3ListRead
    ("s3:PutObject", "arn:aws:s3:::someone-else/x", None, False),                 # implicit deny
    ("s3:PutObject", "arn:aws:s3:::carlossalazar-logs/x", LOGS_BUCKET_POLICY, False),  # DenyS3Logs wins
    ("S3:putobject", "arn:aws:s3:::carlossalazar/x", None, True),                 # actions ignore case
])
def test_single_account_identity_and_resource_policies(action, resource, bucket_policy, allowed):
    decision = evaluate(Request(CARLOS, action, resource), identity=[CARLOS_IDENTITY],
                        resource_policy=bucket_policy, resource_account=A)
    assert decision.allowed is allowed, decision.reason


def test_same_account_resource_policy_alone_allows_a_named_role_but_not_an_account_delegation():
    # GIVEN a role without identity policies, WHEN a bucket policy names the role, THEN allowed;
    # WHEN it names only the account root, THEN the account delegates to IAM: denied.
    request = Request(CARLOS, "s3:GetObject", "arn:aws:s3:::shared/a")
    by_role = doc({"Effect": "Allow", "Principal": {"AWS": CARLOS.arn}, "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::shared/*"})
    by_account = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "s3:GetObject",
                      "Resource": "arn:aws:s3:::shared/*"})
    assert evaluate(request, resource_policy=by_role, resource_account=A)
    assert not evaluate(request, resource_policy=by_account, resource_account=A)


# IAM User Guide, "Cross-account policy evaluation logic": both sides must allow.
ALLOW_READ = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-bucket/*"})
B_BUCKET_ALLOWS_A = doc({"Effect": "Allow", "Principal": {"AWS": A}, "Action": "s3:GetObject",
                         "Resource": "arn:aws:s3:::b-bucket/*"})


@pytest.mark.parametrize("identity, bucket_policy, allowed", [
    ([ALLOW_READ], B_BUCKET_ALLOWS_A, True),
    ([ALLOW_READ], None, False),          # the trusting account grants nothing
    ([], B_BUCKET_ALLOWS_A, False),       # the trusted account's admin granted nothing
])
def test_cross_account_needs_both_sides(identity, bucket_policy, allowed):
    decision = evaluate(Request(CARLOS, "s3:GetObject", "arn:aws:s3:::b-bucket/k"), identity=identity,
                        resource_policy=bucket_policy, resource_account=B)
    assert decision.allowed is allowed, decision.reason


# AWS KMS Developer Guide, "Default key policy": the statement for the account root "enables IAM
# policies"; without it, IAM policies cannot give access. A key policy that names a role allows it.
KEY = f"arn:aws:kms:eu-west-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENABLE_IAM = doc({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                  "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*", "Resource": "*"})
KEY_USER = doc({"Effect": "Allow", "Principal": {"AWS": CARLOS.arn}, "Action": ["kms:Decrypt"], "Resource": "*"})
NO_ROOT = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/admin"}, "Action": "kms:*",
               "Resource": "*"})
IAM_DECRYPT = doc({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})


@pytest.mark.parametrize("key_policy, identity, allowed", [
    (ENABLE_IAM, [IAM_DECRYPT], True),     # root statement + IAM policy
    (ENABLE_IAM, [], False),               # root statement alone: delegation, not a grant
    (KEY_USER, [], True),                  # the key policy names the role
    (NO_ROOT, [IAM_DECRYPT], False),       # no root statement: IAM policies are ineffective
])
def test_kms_key_policy_must_allow(key_policy, identity, allowed):
    decision = evaluate(Request(CARLOS, "kms:Decrypt", KEY), identity=identity, resource_policy=key_policy,
                        resource_account=A, key_policy=True)
    assert decision.allowed is allowed, decision.reason


def test_kms_grant_for_aws_resource_and_via_service_conditions():
    # KMS Developer Guide, kms:GrantIsForAWSResource and kms:ViaService examples.
    policy = doc({"Effect": "Allow", "Principal": {"AWS": CARLOS.arn}, "Action": "kms:CreateGrant", "Resource": "*",
                  "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
                 {"Effect": "Allow", "Principal": {"AWS": CARLOS.arn}, "Action": "kms:Decrypt", "Resource": "*",
                  "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}})
    grant = Request(CARLOS, "kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": True})
    assert evaluate(grant, resource_policy=policy, resource_account=A, key_policy=True)
    assert not evaluate(Request(CARLOS, "kms:CreateGrant", KEY), resource_policy=policy, resource_account=A,
                        key_policy=True)
    via_s3 = Request(CARLOS, "kms:Decrypt", KEY, {"kms:ViaService": "s3.eu-west-1.amazonaws.com"})
    direct = Request(CARLOS, "kms:Decrypt", KEY)
    assert evaluate(via_s3, resource_policy=policy, resource_account=A, key_policy=True)
    assert not evaluate(direct, resource_policy=policy, resource_account=A, key_policy=True)


def test_service_principal_needs_the_resource_policy_and_its_condition():
    topic = f"arn:aws:sns:eu-west-1:{A}:alerts"
    policy = doc({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
                  "Resource": topic, "Condition": {"StringEquals": {"aws:SourceAccount": A}}})
    events = Principal.of_service("events.amazonaws.com")
    assert evaluate(Request(events, "sns:Publish", topic, {"aws:SourceAccount": A}), resource_policy=policy,
                    resource_account=A)
    assert not evaluate(Request(events, "sns:Publish", topic, {"aws:SourceAccount": B}), resource_policy=policy,
                        resource_account=A)
    assert not evaluate(Request(Principal.of_service("cloudwatch.amazonaws.com"), "sns:Publish", topic,
                                {"aws:SourceAccount": A}), resource_policy=policy, resource_account=A)


def test_tls_only_bucket_policy_denies_plain_http_only():
    deny = doc({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    allow = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    assert evaluate(Request(CARLOS, "s3:GetObject", "arn:aws:s3:::b/k"), identity=[allow], resource_policy=deny,
                    resource_account=A)
    assert not evaluate(Request(CARLOS, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": False}),
                        identity=[allow], resource_policy=deny, resource_account=A)


def test_permissions_boundary_caps_identity_policies():
    # IAM User Guide, "Permissions boundaries": effective permissions are the intersection.
    allow_all_s3 = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    boundary = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    get = Request(CARLOS, "s3:GetObject", "arn:aws:s3:::b/k")
    put = Request(CARLOS, "s3:PutObject", "arn:aws:s3:::b/k")
    assert evaluate(get, identity=[allow_all_s3], boundary=[boundary], resource_account=A)
    assert not evaluate(put, identity=[allow_all_s3], boundary=[boundary], resource_account=A)


def test_not_action_and_not_resource():
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert evaluate(Request(CARLOS, "s3:GetObject", "arn:aws:s3:::open/k"), identity=[policy], resource_account=A)
    assert not evaluate(Request(CARLOS, "iam:CreateRole", "*"), identity=[policy], resource_account=A)
    assert not evaluate(Request(CARLOS, "s3:GetObject", "arn:aws:s3:::secret/k"), identity=[policy],
                        resource_account=A)


# IAM User Guide, "Condition operators" and "Conditions with multiple context keys or values".
@pytest.mark.parametrize("block, context, holds", [
    ({"StringEquals": {"k": ["a", "b"]}}, {"k": "b"}, True),                          # values ORed
    ({"StringEquals": {"k": "a", "j": "b"}}, {"k": "a"}, False),                      # keys ANDed
    ({"StringEquals": {"k": "a"}, "Bool": {"t": "true"}}, {"k": "a", "t": True}, True),  # operators ANDed
    ({"StringEquals": {"k": "a"}}, {}, False),                                        # missing key: false
    ({"StringNotEquals": {"k": "a"}}, {}, True),                                      # negated, missing: true
    ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, False),                      # negated values: NOR
    ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
    ({"StringEqualsIfExists": {"k": "a"}}, {"k": "c"}, False),
    ({"StringLike": {"k": "arn:aws:s3:::b/*"}}, {"k": "arn:aws:s3:::b/x/y"}, True),
    ({"StringLike": {"k": "a?c"}}, {"k": "abc"}, True),
    ({"StringEqualsIgnoreCase": {"k": "ABC"}}, {"K": "abc"}, True),                   # key names ignore case
    ({"ArnLike": {"k": "arn:aws:iam::*:role/app-*"}}, {"k": f"arn:aws:iam::{A}:role/app-1"}, True),
    ({"ArnEquals": {"k": "arn:aws:logs:eu-west-1:*:log-group:*"}}, {"k": f"arn:aws:logs:eu-west-1:{A}:x"}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
    ({"NumericLessThan": {"s3:TlsVersion": 1.2}}, {"s3:TlsVersion": "1.0"}, True),
    ({"NumericLessThan": {"s3:TlsVersion": 1.2}}, {"s3:TlsVersion": "1.3"}, False),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),                             # key absent
    ({"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    ({"Null": {"a": "true", "b": "true"}}, {"a": "x"}, False),                        # Null keys ANDed
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["x", "y"]}}, {"aws:TagKeys": ["x"]}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["x"]}}, {"aws:TagKeys": ["x", "z"]}, False),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["x"]}}, {}, True),                # missing: true (documented)
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["x"]}}, {"aws:TagKeys": ["z", "x"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["x"]}}, {}, False),                # missing: false
    ({"ForAnyValue:StringLike": {"sagemaker:VpcSubnets": "subnet-*"}}, {"sagemaker:VpcSubnets": ["subnet-1"]},
     True),
])
def test_condition_operators(block, context, holds):
    assert conditions_hold(block, context) is holds


def test_guardrail_deny_with_null_denies_a_job_without_a_volume_key():
    # The shape issue 16's guardrails take: deny CreateTrainingJob when no volume key is given.
    guardrail = doc({"Effect": "Allow", "Action": "sagemaker:CreateTrainingJob", "Resource": "*"},
                    {"Effect": "Deny", "Action": "sagemaker:CreateTrainingJob", "Resource": "*",
                     "Condition": {"Null": {"sagemaker:VolumeKmsKey": "true"}}})
    job = f"arn:aws:sagemaker:eu-west-1:{A}:training-job/t"
    with_key = Request(CARLOS, "sagemaker:CreateTrainingJob", job, {"sagemaker:VolumeKmsKey": KEY})
    without = Request(CARLOS, "sagemaker:CreateTrainingJob", job)
    assert evaluate(with_key, identity=[guardrail], resource_account=A)
    assert not evaluate(without, identity=[guardrail], resource_account=A)


@pytest.mark.parametrize("block", [{"DateLessThan": {"aws:CurrentTime": "2030-01-01"}},
                                   {"StringLike": {"k": "${aws:username}"}},
                                   {"ForEvery:StringEquals": {"k": "a"}}])
def test_unsupported_features_fail_loudly(block):
    with pytest.raises(UnsupportedPolicy):
        conditions_hold(block, {"k": "a", "aws:CurrentTime": "2026-01-01"})
