"""Data-platform sections: streaming ingestion, Glue ETL, Lake Formation and Athena."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ml_platform.config_sections.base import IAM_PRINCIPAL, Section


class StreamingConfig(Section):
    """Kinesis Data Streams and Firehose delivery into the raw zone."""

    on_demand: bool = True
    shard_count: int = Field(default=1, ge=1, le=500)
    retention_hours: int = Field(default=24, ge=24, le=8760)
    buffer_interval_seconds: int = Field(default=300, ge=60, le=900)
    buffer_size_mib: int = Field(default=128, ge=64, le=128)
    # Reserved Lambda concurrency of the transform (None: unreserved; see lambda_concurrency_quota).
    transform_reserved_concurrency: int | None = Field(default=None, ge=1, le=1000)


class EtlConfig(Section):
    """Glue Spark jobs from raw to curated to training-ready."""

    glue_version: Literal["4.0", "5.0"] = "5.0"
    worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: int = Field(default=2, ge=2, le=299)
    timeout_minutes: int = Field(default=60, ge=1, le=2880)
    minority_ratio: float = Field(default=0.2, gt=0, le=1)
    split_ratios: tuple[float, float, float] = (0.7, 0.15, 0.15)
    schedule_cron: str | None = Field(default=None, pattern=r"^cron\(.+\)$")  # Glue: cron(0 1 * * ? *)
    emr_serverless: bool = False

    @field_validator("split_ratios")
    @classmethod
    def _sum_one(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if abs(sum(value) - 1.0) > 1e-6 or min(value) <= 0:
            raise ValueError("split_ratios must be three positive numbers summing to 1")
        return value


class AnalyticsConfig(Section):
    """Lake Formation administrators and the Athena workgroup."""

    lake_formation_admin_arns: tuple[str, ...] = ()
    athena_bytes_scanned_cutoff_mb: int = Field(default=10240, ge=10)

    @field_validator("lake_formation_admin_arns")
    @classmethod
    def _admins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Lake Formation administrators are IAM users or roles; a typo here locks the lake.
        bad = [arn for arn in value if not IAM_PRINCIPAL.match(arn)]
        if bad:
            raise ValueError(f"not IAM role or user ARNs: {bad}")
        return value
