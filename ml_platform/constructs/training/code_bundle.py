"""`training_code/` as one deterministic `sourcedir.tar.gz`, deployed as a CDK file asset.

SageMaker script mode extracts its code from a gzip tarball (`sagemaker_submit_directory`); a
CDK directory asset is a zip, so the folder is packed here instead. The archive is byte-for-byte
reproducible (sorted entries, zero mtimes, fixed owner, gzip header without time), so the asset
hash and the template only change when the code does. Synth writes the file locally; `cdk deploy`
uploads it. Nothing is uploaded at synth.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from ml_platform.constructs.foundation.assets import grant_asset_read

_EXCLUDED_PARTS = {"__pycache__", ".pytest_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


def _members(source: Path) -> list[Path]:
    return sorted(p for p in source.rglob("*")
                  if p.is_file() and not (_EXCLUDED_PARTS & set(p.relative_to(source).parts))
                  and p.suffix not in _EXCLUDED_SUFFIXES)


def pack_source_dir(source: Path) -> bytes:
    """The gzip tarball of `source` (files at the archive root), identical for identical content."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in _members(source):
            info = tarfile.TarInfo(path.relative_to(source).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


class CodeBundle(Construct):
    """A deterministic tar.gz of a source folder as an S3 file asset.

    `self.s3_uri` is the object's URI (for the Processing and Training `code` inputs; served models
    carry their code inside model.tar.gz instead); `self.file_name` is the object's base name, which
    is the file name a Training `code` channel puts under `/opt/ml/input/data/code/`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, source: Path) -> None:
        super().__init__(scope, construct_id)
        data = pack_source_dir(source)
        digest = hashlib.sha256(data).hexdigest()[:16]
        target = Path(tempfile.gettempdir()) / "ml-platform-code-bundles" / f"sourcedir-{digest}.tar.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = target.with_suffix(f".{id(self)}.tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        self.asset = s3_assets.Asset(self, "Asset", path=str(target))
        self.s3_uri = self.asset.s3_object_url
        self.file_name = self.asset.s3_object_key.rsplit("/", 1)[-1]

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the tarball (an object of the bootstrap assets bucket); IAM5 findings acknowledged."""
        return grant_asset_read(self.asset, grantee)
