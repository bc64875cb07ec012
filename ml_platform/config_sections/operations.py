"""Operations section: the thresholds of the failure-mode alarms and cost anomaly detection.

Every field has a default, so an environment file without `operations:` keeps its meaning; an
operator tunes a noisy alarm here rather than in code.
"""
from __future__ import annotations

from pydantic import Field

from ml_platform.config_sections.base import Section


class AlarmThresholds(Section):
    """When each failure-mode alarm fires (all of them notify the alert topic).

    Counts are per `period_minutes`; a count alarm fires at `>=` its threshold. Dead-letter queues
    have no threshold: one message in a dead-letter queue is already a record that was lost to its
    flow, so their alarms fire on any depth above zero.
    """

    period_minutes: int = Field(default=5, ge=1, le=60)
    lambda_errors: int = Field(default=1, ge=1)
    lambda_throttles: int = Field(default=1, ge=1)
    # Age of the oldest record a consumer (Firehose, the feature ingestion) has not yet read.
    stream_iterator_age_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Records producers had refused by the stream (provisioned or on-demand capacity exceeded).
    stream_write_throttled_records: int = Field(default=1, ge=1)
    # Age of the oldest record Firehose has not yet delivered to the raw zone.
    delivery_freshness_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    api_5xx_errors: int = Field(default=1, ge=1)
    # Requests the API stage answered 429 (its throttle_rate/throttle_burst) per period.
    api_throttled_requests: int = Field(default=10, ge=1)


class CostAnomalyConfig(Section):
    """AWS Cost Anomaly Detection over this environment's cost-allocation tag (on by default: it
    costs nothing). An anomaly whose total impact reaches `impact_usd` (and, when set,
    `impact_percent` of the expected spend) is published to the alert topic as it is detected."""

    enabled: bool = True
    impact_usd: float = Field(default=100, gt=0)
    impact_percent: float | None = Field(default=None, gt=0)


class OperationsConfig(Section):
    alarms: AlarmThresholds = AlarmThresholds()
    cost_anomaly: CostAnomalyConfig = CostAnomalyConfig()
