"""Where one active-learning run keeps its state, and the two stores that hold it (S3 in AWS, a dict
in the local rehearsal). Everything is text, so the state machine's steps and the SageMaker jobs
exchange files in the formats those jobs read and write.

Layout under the run prefix:
  pool/features.csv                 object id, then the features (no header): the objects to label
  pool/records.jsonl                optional {"id", "record"}: what workers see (else the features)
  state/labels.jsonl                {"id", "label", "source", "confidence", "round"}: merged labels
  state/progress.json               held-out ids, human tasks spent, round
  rounds/<n>/train/train.csv        label index first, no header: the training job's train channel
  rounds/<n>/predict/input.csv      features only: the batch transform's input (SplitType=Line)
  rounds/<n>/predict-ids.json       the object id of each input line, in order (outside predict/)
  rounds/<n>/predict-output/input.csv.out   what the transform writes (AssembleWith=Line)
  rounds/<n>/humans/{uncertain,held-out}.manifest   Ground Truth input manifests
"""
from __future__ import annotations

from typing import Protocol
from urllib.parse import urlparse


class Store(Protocol):
    """Text objects by key under one run prefix."""

    def read(self, key: str) -> str | None: ...
    def write(self, key: str, text: str) -> None: ...
    def uri(self, key: str) -> str: ...
    def read_uri(self, uri: str) -> str: ...


class MemoryStore:
    """The local stand-in for the run prefix (rehearsal and tests)."""

    def __init__(self, prefix: str = "s3://local-run/labeled/active-learning/run/") -> None:
        self.prefix = prefix
        self.objects: dict[str, str] = {}

    def read(self, key: str) -> str | None:
        return self.objects.get(key)

    def write(self, key: str, text: str) -> None:
        self.objects[key] = text

    def uri(self, key: str) -> str:
        return self.prefix + key

    def read_uri(self, uri: str) -> str:
        if not uri.startswith(self.prefix) or uri[len(self.prefix):] not in self.objects:
            raise FileNotFoundError(uri)
        return self.objects[uri[len(self.prefix):]]


class S3Store:
    """The run prefix in the curated bucket; writes are SSE-KMS with the curated zone's key."""

    def __init__(self, client, bucket: str, prefix: str, kms_key_id: str | None = None) -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.kms_key_id = kms_key_id

    def read(self, key: str) -> str | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        return body.decode("utf-8")

    def read_uri(self, uri: str) -> str:
        parsed = urlparse(uri)
        return self.client.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read().decode("utf-8")

    def write(self, key: str, text: str) -> None:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=text.encode("utf-8"), **extra)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"
