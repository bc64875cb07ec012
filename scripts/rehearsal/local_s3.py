"""S3 as folders: `s3://bucket/key` is `<root>/bucket/key`. The CDK assets bucket is filled on
first read from the assembly's asset manifest, so code and scripts come from exactly what synth
staged (the same bytes `cdk deploy` would publish)."""
from __future__ import annotations

import shutil
from pathlib import Path

from rehearsal.assembly import Assembly


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


class LocalS3:
    """Folders standing in for the platform's buckets."""

    def __init__(self, root: Path, assembly: Assembly) -> None:
        self.root = root
        self.assembly = assembly

    def path(self, uri: str) -> Path:
        """The local path of `uri` (an object or a prefix); assets are materialized on demand."""
        bucket, key = split_uri(uri)
        local = self.root / bucket / key
        if "-assets-" in bucket and key in self.assembly.assets and not local.exists():
            self.assembly.materialize_asset(key, local)
        return local

    def download(self, uri: str, local_dir: Path) -> None:
        """What a SageMaker `S3Prefix` input in File mode does: every object under the prefix, keys
        relative to the prefix (an exact object key lands as its base name)."""
        source = self.path(uri)
        local_dir.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copy2(source, local_dir / source.name)
            return
        if not source.is_dir():
            raise FileNotFoundError(f"nothing under {uri} (local {source})")
        for file in source.rglob("*"):
            if file.is_file():
                dest = local_dir / file.relative_to(source)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, dest)

    def upload(self, local_dir: Path, uri: str) -> None:
        """What a processing output (EndOfJob) does: the folder's files under the prefix."""
        target = self.path(uri)
        for file in local_dir.rglob("*"):
            if file.is_file():
                dest = target / file.relative_to(local_dir)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, dest)
