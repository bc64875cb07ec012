"""Acknowledgments of the AwsSolutions-IAM5 wildcards that CDK's own grants write: one reason table.

CDK's `grant_read`/`grant_read_write` name action groups (`s3:GetObject*`) and object ARNs
(`<bucket>/*`), which AwsSolutions-IAM5 reports one by one. Each data-platform role acknowledges
exactly the findings its own grants produce, with the reason below or one given by the caller.
"""
from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_s3 as s3

from ml_platform.constructs.foundation.roles import PlatformRole

# Reasons for the action groups CDK's bucket and key grants use.
GRANT_ACTIONS = {
    "s3:GetObject*": "CDK bucket grant: object reads (GetObject, versions, tags, ACL) on the named bucket only",
    "s3:GetBucket*": "CDK bucket grant: bucket metadata reads (location, versioning) on the named bucket only",
    "s3:List*": "CDK bucket grant: listing the named bucket (and its multipart uploads) only",
    "s3:DeleteObject*": "CDK bucket grant: overwriting and deleting objects of the named bucket and prefix only",
    "s3:Abort*": "CDK bucket grant: aborting this role's own multipart uploads in the named bucket",
    "kms:GenerateDataKey*": "Data keys of the bucket's own KMS key, needed to write SSE-KMS objects",
    "kms:ReEncrypt*": "CDK key grant includes re-encryption, limited to the one key encrypting the bucket",
}


def object_arns(bucket: s3.IBucket, prefix: str = "") -> str:
    return f"Resource::{bucket.bucket_arn}/{prefix}*"


def acknowledge_grants(role: PlatformRole, *, actions: tuple[str, ...] = (),
                       resources: Mapping[str, str] | None = None) -> None:
    """Acknowledge the IAM5 findings of `role`'s grants: CDK action groups with the reason of this
    table, and each wildcard resource (`Resource::<arn>`) with its own reason."""
    for action in actions:
        role.acknowledge_wildcard(f"Action::{action}", GRANT_ACTIONS[action])
    for detail, reason in (resources or {}).items():
        role.acknowledge_wildcard(detail, reason)


S3_READ = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
S3_READ_WRITE = S3_READ + ("s3:DeleteObject*", "s3:Abort*")
KMS = ("kms:GenerateDataKey*", "kms:ReEncrypt*")
