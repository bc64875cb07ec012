"""Small text artifacts (the stats JSON, the event schema) on S3 or a local path.

Spark writes directories of part files; a single JSON artifact that inference code reads is
simpler as one object, so it goes through boto3 (present in Glue and EMR) or the filesystem.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse


def _s3(uri: str):
    import boto3  # imported lazily: local runs and tests never need it

    parsed = urlparse(uri)
    return boto3.client("s3"), parsed.netloc, parsed.path.lstrip("/")


def exists(uri: str) -> bool:
    """True when the artifact exists."""
    if uri.startswith("s3://"):
        from botocore.exceptions import ClientError

        client, bucket, key = _s3(uri)
        try:
            client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
    return Path(uri).is_file()


def read_text(uri: str) -> str:
    """Read a UTF-8 text object from s3://bucket/key or a local path."""
    if uri.startswith("s3://"):
        client, bucket, key = _s3(uri)
        return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return Path(uri).read_text(encoding="utf-8")


def write_text(uri: str, text: str) -> None:
    """Write a UTF-8 text object to s3://bucket/key or a local path (parents created)."""
    if uri.startswith("s3://"):
        client, bucket, key = _s3(uri)
        client.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"),
                          ContentType="application/json")
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
