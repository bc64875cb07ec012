"""Multi-model endpoints load `<prefix>/<name>.tar.gz` on first invocation (TargetModel=<name>.tar.gz):
put the approved package's archive there, server-side, before the endpoint is touched.

Idempotent: the copy records its source in the object's metadata, so a repeated event finds the
archive already staged and copies nothing.
"""
from __future__ import annotations

from deployer_settings import DeploymentError, Settings

SOURCE_METADATA = "source-model-data-url"  # S3 returns user metadata keys lower-case


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); anything else is a deployment error."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise DeploymentError(f"not an s3://bucket/key URL: {url!r}")
    bucket, _, key = url[5:].partition("/")
    return bucket, key


def target_model_name(package: dict) -> str:
    """`<group>-v<version>.tar.gz`: the TargetModel a client names to reach this version."""
    return f"{package['ModelPackageGroupName']}-v{package['ModelPackageVersion']}.tar.gz"


def _existing_source(s3, bucket: str, key: str) -> str | None:
    """The source recorded on an archive already staged at `key`, or None when there is none.

    Listing first (the role may list the multi-model prefix only) tells a missing archive from a
    refused one: without s3:ListBucket on the whole bucket, HeadObject answers 403 for both.
    """
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    if not any(item["Key"] == key for item in listing.get("Contents", [])):
        return None
    return s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get(SOURCE_METADATA)


def stage_archive(s3, settings: Settings, package: dict) -> dict:
    """Copy the package's ModelDataUrl to the multi-model prefix; what was done, for the log."""
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    source_url = containers[0].get("ModelDataUrl") if containers else None
    if not source_url:
        raise DeploymentError(f"model package {package.get('ModelPackageArn')} has no ModelDataUrl to stage for "
                              "the multi-model endpoint; nothing deployed")
    source_bucket, source_key = split_s3_url(source_url)
    bucket, prefix = split_s3_url(settings.multi_model_prefix.rstrip("/") + "/")
    key = f"{prefix}{target_model_name(package)}"
    result = {"target_model": target_model_name(package), "archive_url": f"s3://{bucket}/{key}"}
    if _existing_source(s3, bucket, key) == source_url:
        return {**result, "archive_copied": False}
    s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key},
                   MetadataDirective="REPLACE", Metadata={SOURCE_METADATA: source_url},
                   ServerSideEncryption="aws:kms", SSEKMSKeyId=settings.multi_model_kms_key_id,
                   BucketKeyEnabled=True, TaggingDirective="REPLACE")
    return {**result, "archive_copied": True}
