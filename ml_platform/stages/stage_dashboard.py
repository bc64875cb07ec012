"""What the Stage contains, as the dashboard's sources (`DashboardSources`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ml_platform.constructs.foundation.vpc_function import VpcFunction
from ml_platform.constructs.operations.dashboard_sources import DashboardSources, EndpointSource, FunctionSource
from ml_platform.constructs.serving.endpoint_api import STAGE_NAME, THROTTLED_METRIC

if TYPE_CHECKING:
    from ml_platform.stages.platform_stage import MlPlatformStage


def _endpoint(stage: MlPlatformStage) -> EndpointSource | None:
    if stage.serving is None:
        return None
    spec, api = stage.serving.spec, stage.serving.api
    return EndpointSource(
        name=spec.endpoint_name, variant=spec.variant_name, mode=spec.config.mode,
        latency_alarm_ms=spec.config.latency_alarm_ms,
        provisioned_concurrency=bool(spec.config.serverless_provisioned_concurrency),
        api_name=api.api_name if api else None, api_stage=STAGE_NAME if api else None,
        api_throttled_namespace=api.throttled_namespace if api else None,
        api_throttled_metric=THROTTLED_METRIC if api else None)


def _functions(stage: MlPlatformStage) -> tuple[FunctionSource, ...]:
    """Every platform function of the Stage, found in the construct tree: a new one appears by itself."""
    prefix = f"{stage.naming.prefix}-"
    found = [c for c in stage.node.find_all() if isinstance(c, VpcFunction)]
    return tuple(FunctionSource(label=f.function_name.removeprefix(prefix), name=f.function_name)
                 for f in sorted(found, key=lambda f: f.function_name))


def dashboard_sources(stage: MlPlatformStage) -> DashboardSources:
    config = stage.config
    processing = stage.processing
    return DashboardSources(
        title=f"{stage.naming.prefix}: ML platform ({config.environment}, {config.region})",
        endpoint=_endpoint(stage),
        stream_name=stage.ingestion.stream.stream_name,
        delivery_stream_name=stage.ingestion.delivery.delivery_stream.ref,
        functions=_functions(stage),
        # The jobs' literal names (CfnJob.name; `GlueSparkJob.name` is a Ref: it would be an export).
        glue_jobs=tuple(name for j in (processing.raw_to_curated, processing.curated_to_features)
                        if (name := j.job.name)),
        pipeline_name=stage.training.pipeline.pipeline_name,
        budget_limit_usd=config.budget.monthly_limit_usd,
        monitored_endpoint=stage.serving.spec.endpoint_name if stage.monitoring and stage.serving else None,
        monitoring_window_hours=config.monitoring.window_hours)
