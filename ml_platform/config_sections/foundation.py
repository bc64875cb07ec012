"""Foundation sections: cost tags, network, data-lake lifecycle, alerts and budget."""
from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator

from ml_platform.config_sections.base import EmailAddress, LogRetentionDays, PositiveDays, Section


class CostTags(Section):
    """Cost-allocation tags applied to every taggable resource."""

    project: str = Field(min_length=1, max_length=128)
    environment: str = Field(min_length=1, max_length=128)
    owner: str = Field(min_length=1, max_length=128)
    cost_center: str = Field(min_length=1, max_length=128)

    def as_dict(self) -> dict[str, str]:
        return {"Project": self.project, "Environment": self.environment, "Owner": self.owner,
                "CostCenter": self.cost_center}


class NetworkConfig(Section):
    """The VPC: private isolated subnets only, reached through VPC endpoints."""

    cidr: str
    az_count: int = Field(ge=1, le=3)
    # AZ names are explicit so that synth never looks them up in the account.
    availability_zone_letters: tuple[str, ...] = ("a", "b", "c")
    flow_log_retention_days: LogRetentionDays = 90
    nat_gateways: int = Field(default=0, ge=0, le=3)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not a valid IPv4 CIDR block ({exc})") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("VPC CIDR prefix must be between /16 and /24")
        if not net.is_private:
            raise ValueError("VPC CIDR must be a private (RFC 1918) range")
        return value


    @model_validator(mode="after")
    def _enough_letters(self) -> "NetworkConfig":
        if len(self.availability_zone_letters) < self.az_count:
            raise ValueError("availability_zone_letters must list at least az_count letters")
        return self


class ZoneLifecycle(Section):
    """Storage tiers for one data-lake zone; days are counted from object creation."""

    intelligent_tiering_days: PositiveDays | None = None
    glacier_days: PositiveDays | None = None
    expiration_days: PositiveDays | None = None
    noncurrent_version_expiration_days: PositiveDays = 90

    @model_validator(mode="after")
    def _ordered(self) -> "ZoneLifecycle":
        it, gl, ex = self.intelligent_tiering_days, self.glacier_days, self.expiration_days
        if it is not None and gl is not None and gl <= it:
            raise ValueError("glacier_days must be greater than intelligent_tiering_days")
        if ex is not None and any(d is not None and ex <= d for d in (it, gl)):
            raise ValueError("expiration_days must be greater than every transition day")
        return self


# Zones whose objects are read again and again, whatever their age: an object in Glacier answers
# GetObject with InvalidObjectState, so these zones may not tier to Glacier (Intelligent-Tiering
# without its opt-in archive tiers stays instantly readable). Raw is read once per object:
# raw_to_curated's job bookmark picks only new files (a bookmark reset would need a restore).
_ALWAYS_READ = {
    "curated": "curated_to_features reads the whole curated zone every night, and analysts query it in Athena",
    "features": "the crawler and every training run read the features zone, and analysts query it in Athena",
    "artifacts": "an endpoint reads its model.tar.gz whenever an instance starts, however old the model is",
}


class DataLakeConfig(Section):
    raw: ZoneLifecycle
    curated: ZoneLifecycle
    features: ZoneLifecycle
    artifacts: ZoneLifecycle
    access_log_expiration_days: PositiveDays = 365

    @model_validator(mode="after")
    def _no_glacier_where_always_read(self) -> "DataLakeConfig":
        for zone, reader in _ALWAYS_READ.items():
            if getattr(self, zone).glacier_days is not None:
                raise ValueError(f"{zone}.glacier_days: {reader}; objects moved to Glacier would fail those reads "
                                 "(InvalidObjectState). Leave it unset (Intelligent-Tiering keeps them readable)")
        return self


class AlertsConfig(Section):
    email: EmailAddress



class BudgetConfig(Section):
    monthly_limit_usd: float = Field(gt=0)
    alert_thresholds_percent: tuple[int, ...] = (80, 100)
