"""CloudWatch Logs retention from a number of days in configuration."""
from __future__ import annotations

from aws_cdk import aws_logs as logs

from ml_platform.config_sections.base import LOG_RETENTION_DAYS

# RetentionDays members are declared in the same ascending order as the days CloudWatch accepts.
_BY_DAYS = dict(zip(LOG_RETENTION_DAYS, [m for m in logs.RetentionDays if m.name != "INFINITE"], strict=True))


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for `days` (already validated by the configuration)."""
    return _BY_DAYS[days]
