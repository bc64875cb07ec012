"""The environment's CloudWatch dashboard, one section per capability the Stage contains.

Hand-written widgets (see README "Operations" for why not cdk-monitoring-constructs): each section
is a text header and graphs three to a row; a section whose capability is absent is not drawn.
"""
from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from ml_platform.constructs.monitoring.our_monitor import NAMESPACE as MONITORING_NAMESPACE
from ml_platform.constructs.operations.dashboard_sources import DashboardSources, EndpointSource

WIDTH, HEIGHT, PER_ROW = 24, 6, 3
FIVE_MINUTES = cdk.Duration.minutes(5)
# AWS/Billing publishes EstimatedCharges in us-east-1 only (and only once "Receive Billing Alerts"
# is on): the widget reads it from there whatever the environment's region.
BILLING_REGION = "us-east-1"


def _metric(namespace: str, name: str, dims: dict[str, str], statistic: str = "Sum", label: str | None = None,
            period: cdk.Duration = FIVE_MINUTES, region: str | None = None) -> cw.Metric:
    return cw.Metric(namespace=namespace, metric_name=name, dimensions_map=dims, statistic=statistic,
                     label=label or name, period=period, region=region)


def _graph(title: str, left: Sequence[cw.IMetric], right: Sequence[cw.IMetric] = (),
           annotations: Sequence[cw.HorizontalAnnotation] = ()) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=list(left), right=list(right), width=WIDTH // PER_ROW, height=HEIGHT,
                          left_annotations=list(annotations) or None)


def _search(expression: str, label: str, statistic: str = "Sum", period: int = 300) -> cw.MathExpression:
    """A SEARCH over metrics whose full dimension set is not fixed (Glue observability metrics)."""
    return cw.MathExpression(expression=f"SEARCH('{expression}', '{statistic}', {period})", label=label,
                             using_metrics={}, period=cdk.Duration.seconds(period))


class PlatformDashboard(Construct):
    """`self.dashboard`: named `<prefix>-platform`, 24 columns, sections in the order of the flow."""

    def __init__(self, scope: Construct, construct_id: str, *, dashboard_name: str, sources: DashboardSources) -> None:
        super().__init__(scope, construct_id)
        self.sources = sources
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name,
                                      default_interval=cdk.Duration.hours(24))
        self.dashboard.add_widgets(cw.TextWidget(markdown=f"# {sources.title}", width=WIDTH, height=1))
        sections = [("Serving", self._serving()), ("Endpoint API", self._api()), ("Ingestion", self._ingestion()),
                    ("Lambda functions", self._functions()), ("ETL and training", self._etl_and_training()),
                    ("Model monitoring", self._monitoring()), ("Cost", self._cost())]
        for header, widgets in sections:
            if widgets:
                self.dashboard.add_widgets(cw.TextWidget(markdown=f"## {header}", width=WIDTH, height=1))
                for start in range(0, len(widgets), PER_ROW):
                    self.dashboard.add_widgets(*widgets[start:start + PER_ROW])

    def _serving(self) -> list[cw.IWidget]:
        e = self.sources.endpoint
        if e is None:
            return []
        dims = {"EndpointName": e.name, "VariantName": e.variant}
        sm = "AWS/SageMaker"
        widgets: list[cw.IWidget] = [
            _graph("Endpoint invocations and errors", [_metric(sm, "Invocations", dims)],
                   [_metric(sm, "Invocation4XXErrors", dims), _metric(sm, "Invocation5XXErrors", dims)]),
            _graph("Model latency p50 / p99 (microseconds)",
                   [_metric(sm, "ModelLatency", dims, "p50", "ModelLatency p50"),
                    _metric(sm, "ModelLatency", dims, "p99", "ModelLatency p99")],
                   annotations=[cw.HorizontalAnnotation(value=e.latency_alarm_ms * 1000, label="rollback alarm")]),
        ]
        widgets.append(self._capacity(e, dims))
        if e.mode == "async":
            by_endpoint = {"EndpointName": e.name}
            widgets.append(_graph("Async backlog", [
                _metric(sm, "ApproximateBacklogSize", by_endpoint, "Average"),
                _metric(sm, "ApproximateBacklogSizePerInstance", by_endpoint, "Average")],
                [_metric(sm, "HasBacklogWithoutCapacity", by_endpoint, "Maximum")]))
        return widgets

    @staticmethod
    def _capacity(e: EndpointSource, dims: dict[str, str]) -> cw.IWidget:
        sm = "AWS/SageMaker"
        if e.mode == "serverless":
            right = [_metric(sm, "ServerlessProvisionedConcurrencyUtilization", dims, "Average")] \
                if e.provisioned_concurrency else []
            return _graph("Serverless cold starts (ModelSetupTime, microseconds)",
                          [_metric(sm, "ModelSetupTime", dims, "Average")], right)
        # SageMaker publishes no instance count: Invocations / InvocationsPerInstance is the number
        # of instances that served in the period (blank while idle).
        instances = cw.MathExpression(
            expression="invocations / per_instance", label="Instances serving",
            using_metrics={"invocations": _metric(sm, "Invocations", dims),
                           "per_instance": _metric(sm, "InvocationsPerInstance", dims)}, period=FIVE_MINUTES)
        cpu = _metric("/aws/sagemaker/Endpoints", "CPUUtilization", dims, "Average")
        return _graph("Instance count and CPU", [instances], [cpu])

    def _api(self) -> list[cw.IWidget]:
        e = self.sources.endpoint
        if e is None or e.api_name is None:
            return []
        dims = {"ApiName": e.api_name, "Stage": e.api_stage or ""}
        gw = "AWS/ApiGateway"
        throttled = [_metric(e.api_throttled_namespace, e.api_throttled_metric, {}, label="429 throttled")] \
            if e.api_throttled_namespace and e.api_throttled_metric else []
        return [
            _graph("API requests", [_metric(gw, "Count", dims, label="requests")],
                   [_metric(gw, "4XXError", dims), _metric(gw, "5XXError", dims), *throttled]),
            _graph("API latency p99 (ms)", [_metric(gw, "Latency", dims, "p99", "Latency p99"),
                                            _metric(gw, "IntegrationLatency", dims, "p99", "IntegrationLatency p99")]),
        ]

    def _ingestion(self) -> list[cw.IWidget]:
        s = self.sources
        widgets: list[cw.IWidget] = []
        if s.stream_name is not None:
            dims = {"StreamName": s.stream_name}
            ks = "AWS/Kinesis"
            widgets += [
                _graph("Event stream records", [_metric(ks, "IncomingRecords", dims),
                                                _metric(ks, "GetRecords.Records", dims, label="records read")]),
                _graph("Event stream iterator age and throttling",
                       [_metric(ks, "GetRecords.IteratorAgeMilliseconds", dims, "Maximum", "iterator age (ms)")],
                       [_metric(ks, "WriteProvisionedThroughputExceeded", dims, label="write throttled"),
                        _metric(ks, "ReadProvisionedThroughputExceeded", dims, label="read throttled")]),
            ]
        if s.delivery_stream_name is not None:
            dims = {"DeliveryStreamName": s.delivery_stream_name}
            fh = "AWS/Firehose"
            widgets.append(_graph(
                "Firehose freshness and failed records",
                [_metric(fh, "DeliveryToS3.DataFreshness", dims, "Maximum", "freshness (s)")],
                [_metric(fh, "FailedConversion.Records", dims, label="failed conversion"),
                 _metric(fh, "DeliveryToS3.Success", dims, "Average", "S3 delivery success"),
                 _metric(fh, "ExecuteProcessing.Success", dims, "Average", "transform success")]))
        return widgets

    def _functions(self) -> list[cw.IWidget]:
        functions = self.sources.functions
        if not functions:
            return []

        def each(metric: str, statistic: str) -> list[cw.IMetric]:
            return [_metric("AWS/Lambda", metric, {"FunctionName": f.name}, statistic, f.label) for f in functions]

        return [_graph("Lambda errors", each("Errors", "Sum")), _graph("Lambda throttles", each("Throttles", "Sum")),
                _graph("Lambda duration p99 (ms)", each("Duration", "p99"))]

    def _etl_and_training(self) -> list[cw.IWidget]:
        s = self.sources
        widgets: list[cw.IWidget] = []
        if s.glue_jobs:
            # Observability metrics (--enable-observability-metrics): one run's outcome per metric.
            failed = [_search(f'{{Glue,JobName,JobRunId,Type,ObservabilityGroup}} MetricName="glue.error.ALL" '
                              f'JobName="{job}"', f"{job} failed") for job in s.glue_jobs]
            succeeded = [_search(f'{{Glue,JobName,JobRunId,Type,ObservabilityGroup}} MetricName="glue.succeed.ALL" '
                                 f'JobName="{job}"', f"{job} succeeded") for job in s.glue_jobs]
            widgets.append(_graph("Glue job failures", failed, succeeded))
        if s.pipeline_name is not None:
            dims, ns, hour = {"PipelineName": s.pipeline_name}, "AWS/Sagemaker/ModelBuildingPipeline", cdk.Duration.hours(1)
            widgets.append(_graph("Training pipeline executions",
                                  [_metric(ns, m, dims, period=hour) for m in ("ExecutionStarted", "ExecutionSucceeded")],
                                  [_metric(ns, m, dims, period=hour) for m in ("ExecutionFailed", "ExecutionStopped")]))
        return widgets

    def _monitoring(self) -> list[cw.IWidget]:
        s = self.sources
        if s.monitored_endpoint is None:
            return []
        dims, window = {"Endpoint": s.monitored_endpoint}, cdk.Duration.hours(s.monitoring_window_hours)

        def metrics(*names: str) -> list[cw.IMetric]:
            return [_metric(MONITORING_NAMESPACE, n, dims, "Maximum", period=window) for n in names]

        return [_graph("Monitoring violations", metrics("Violations", "DriftedFeatures", "ModelQualityViolations")),
                _graph("Prediction drift and AUC", metrics("PredictionDrift", "MaxFeatureDrift"), metrics("AUC"))]

    def _cost(self) -> list[cw.IWidget]:
        limit = self.sources.budget_limit_usd
        charges = _metric("AWS/Billing", "EstimatedCharges", {"Currency": "USD"}, "Maximum",
                          "estimated charges (USD)", period=cdk.Duration.hours(6), region=BILLING_REGION)
        note = cw.TextWidget(width=WIDTH - WIDTH // PER_ROW, height=HEIGHT, markdown=(
            "**Budget spend.** `EstimatedCharges` is the whole account's month-to-date bill, published in "
            "us-east-1 only and only once *Receive Billing Alerts* is enabled; the line marks this "
            f"environment's monthly budget (USD {limit:g}). The budget itself (filtered by the Project and "
            "Environment cost tags) and cost anomalies notify the alert topic."))
        return [_graph("Estimated charges vs budget (account, us-east-1)", [charges],
                       annotations=[cw.HorizontalAnnotation(value=limit, label="monthly budget")]), note]
