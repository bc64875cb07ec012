"""What an environment's dashboard shows: the names of what the Stage contains, nothing else.

Metrics are addressed by the physical names the platform already makes stable (`Naming`, the
endpoint spec, the functions named after their roles, the Glue jobs and the pipeline), so the
dashboard stack imports nothing from the stacks it watches and locks none of them with an export.
The two exceptions are the Kinesis stream and the Firehose delivery stream, whose names
CloudFormation generates: renaming them would replace the stream (and lose the events it holds),
so the dashboard takes their names as cross-stack references. Such an export only blocks a change
that replaces that stream, which is a migration to plan anyway.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EndpointSource:
    """The endpoint (and its optional API front) by name."""

    name: str
    variant: str
    mode: str  # realtime | serverless | async
    latency_alarm_ms: int
    provisioned_concurrency: bool = False
    api_name: str | None = None
    api_stage: str | None = None
    api_throttled_namespace: str | None = None
    api_throttled_metric: str | None = None


@dataclass(frozen=True)
class FunctionSource:
    """One platform Lambda function: `label` on the graphs, `name` its stable function name."""

    label: str
    name: str


@dataclass(frozen=True)
class DashboardSources:
    """Everything one environment's dashboard is drawn from; `None`/empty: no widget for it."""

    title: str
    endpoint: EndpointSource | None
    stream_name: str | None
    delivery_stream_name: str | None
    functions: tuple[FunctionSource, ...]
    glue_jobs: tuple[str, ...]
    pipeline_name: str | None
    budget_limit_usd: float
    monitored_endpoint: str | None = None
    monitoring_window_hours: int = 1
