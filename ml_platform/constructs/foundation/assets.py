"""Read grants on CDK file assets (Lambda, Glue and training code in the bootstrap assets bucket)."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets

from ml_platform.constants import bootstrap_assets_bucket
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import S3_READ, acknowledge_grants

ASSET_OBJECTS_REASON = ("CDK file assets (job scripts, ETL modules, event schema, training code) have content-hash "
                        "keys in the bootstrap assets bucket; read-only")


def grant_asset_read(asset: s3_assets.Asset, grantee: iam.IGrantable) -> iam.Grant:
    """What `Asset.grant_read` grants (read on the assets bucket), returned as an `iam.Grant`.

    `Asset.grant_read` returns nothing; it calls `bucket.grant_read(grantee)`, which is done here
    so that callers can combine the grant. A `PlatformRole` grantee gets the grant's IAM5
    findings acknowledged: the asset keys are content hashes, so only the bucket can be named.
    """
    grant = asset.bucket.grant_read(grantee)
    if isinstance(grantee, PlatformRole):
        stack = cdk.Stack.of(asset)
        objects = f"Resource::arn:aws:s3:::{bootstrap_assets_bucket(stack.account, stack.region)}/*"
        acknowledge_grants(grantee, actions=S3_READ, resources={objects: ASSET_OBJECTS_REASON})
    return grant
