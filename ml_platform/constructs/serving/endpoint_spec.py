"""What an endpoint of one environment looks like, in the shape of the SageMaker API.

One description serves both paths that create endpoints: the CloudFormation resources of
`ModelEndpoint` (when configuration pins the first model) and the deployer Lambda (which receives
`api_document()` as JSON and creates or updates the endpoint when a model package is approved).
Values may be CDK tokens (key ARNs, bucket names); they resolve when the template is deployed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_platform.config_sections.serving import EndpointConfig

VARIANT_NAME = "AllTraffic"
INSTANCE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PROVISIONED_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"


@dataclass(frozen=True)
class EndpointSpec:
    """Settings of one endpoint; `config` is the environment's validated `endpoint` section."""

    config: EndpointConfig
    endpoint_name: str
    kms_key_arn: str
    capture_s3_uri: str
    async_output_s3_uri: str | None = None
    async_failure_s3_uri: str | None = None
    success_topic_arn: str | None = None
    error_topic_arn: str | None = None
    variant_name: str = VARIANT_NAME

    @property
    def serverless(self) -> bool:
        return self.config.mode == "serverless"

    @property
    def is_async(self) -> bool:
        return self.config.mode == "async"

    @property
    def in_vpc(self) -> bool:
        # SageMaker Serverless Inference supports neither VPC configuration nor network isolation.
        return not self.serverless

    @property
    def captures_data(self) -> bool:
        # Serverless endpoints do not support data capture; 0 % means "off".
        return not self.serverless and self.config.data_capture_percent > 0

    @property
    def scaling_dimension(self) -> str | None:
        if self.serverless:
            return PROVISIONED_DIMENSION if self.config.serverless_provisioned_concurrency else None
        return INSTANCE_DIMENSION

    @property
    def min_capacity(self) -> int:
        if self.serverless:
            return self.config.serverless_provisioned_concurrency or 0
        # Async endpoints scale to zero when their queue is empty.
        return 0 if self.is_async else self.config.min_instances

    @property
    def max_capacity(self) -> int:
        if self.serverless:
            return max(self.config.serverless_provisioned_concurrency or 0, self.config.serverless_max_concurrency)
        return self.config.max_instances

    @property
    def scaling_resource_id(self) -> str:
        return f"endpoint/{self.endpoint_name}/variant/{self.variant_name}"

    # --- API-shaped documents (CreateEndpointConfig / CreateEndpoint / UpdateEndpoint) ---------

    def production_variant(self) -> dict[str, Any]:
        """ProductionVariants[0] without ModelName (the deployer adds the model it created)."""
        if self.serverless:
            serverless = {"MemorySizeInMB": self.config.serverless_memory_mb,
                          "MaxConcurrency": self.config.serverless_max_concurrency}
            if self.config.serverless_provisioned_concurrency:
                serverless["ProvisionedConcurrency"] = self.config.serverless_provisioned_concurrency
            return {"VariantName": self.variant_name, "ServerlessConfig": serverless}
        # Async starts with one instance; autoscaling takes it to zero when idle.
        count = 1 if self.is_async else self.config.min_instances
        return {"VariantName": self.variant_name, "InstanceType": self.config.instance_type,
                "InitialInstanceCount": count, "InitialVariantWeight": 1.0}

    def data_capture(self) -> dict[str, Any] | None:
        if not self.captures_data:
            return None
        return {"EnableCapture": True, "InitialSamplingPercentage": self.config.data_capture_percent,
                "DestinationS3Uri": self.capture_s3_uri, "KmsKeyId": self.kms_key_arn,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"],
                                             "JsonContentTypes": ["application/json"]}}

    def async_inference(self) -> dict[str, Any] | None:
        if not self.is_async:
            return None
        return {"ClientConfig": {"MaxConcurrentInvocationsPerInstance": self.config.async_max_concurrent_invocations},
                "OutputConfig": {"S3OutputPath": self.async_output_s3_uri,
                                 "S3FailurePath": self.async_failure_s3_uri,
                                 "KmsKeyId": self.kms_key_arn,
                                 "NotificationConfig": {"SuccessTopic": self.success_topic_arn,
                                                        "ErrorTopic": self.error_topic_arn}}}

    def traffic_routing(self) -> dict[str, Any]:
        routing: dict[str, Any] = {"Type": self.config.rollout.upper(),
                         "WaitIntervalInSeconds": self.config.rollout_wait_seconds}
        if self.config.rollout == "canary":
            routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": self.config.canary_percent}
        elif self.config.rollout == "linear":
            routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": self.config.linear_step_percent}
        return routing

    def deployment_config(self, alarm_names: list[str]) -> dict[str, Any]:
        """Blue/green with the configured traffic shifting, a baking period, and alarm rollback."""
        return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": self.traffic_routing(),
                                          "TerminationWaitInSeconds": self.config.baking_period_seconds},
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": n} for n in alarm_names]}}

    def api_document(self, alarm_names: list[str]) -> dict[str, Any]:
        """Everything the deployer needs to build the endpoint config and roll it out."""
        doc: dict[str, Any] = {"EndpointName": self.endpoint_name, "KmsKeyId": self.kms_key_arn,
                     "ProductionVariant": self.production_variant(),
                     "DeploymentConfig": self.deployment_config(alarm_names)}
        if (capture := self.data_capture()) is not None:
            doc["DataCaptureConfig"] = capture
        if (async_config := self.async_inference()) is not None:
            doc["AsyncInferenceConfig"] = async_config
        return doc

    # --- Application Auto Scaling, for the deployer (CloudFormation uses the L2 constructs) -----

    def scaling_document(self) -> dict[str, Any] | None:
        """RegisterScalableTarget / PutScalingPolicy / PutScheduledAction arguments, or None."""
        dimension = self.scaling_dimension
        if dimension is None:
            return None
        target = {"ServiceNamespace": "sagemaker", "ResourceId": self.scaling_resource_id,
                  "ScalableDimension": dimension}
        policies = [{**target, "PolicyName": f"{self.endpoint_name}-target-tracking",
                     "PolicyType": "TargetTrackingScaling",
                     "TargetTrackingScalingPolicyConfiguration": self._target_tracking()}]
        alarm = None
        if self.is_async:
            policies.append({**target, "PolicyName": f"{self.endpoint_name}-backlog-without-capacity",
                             "PolicyType": "StepScaling",
                             "StepScalingPolicyConfiguration": {
                                 "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average",
                                 "Cooldown": self.config.scale_out_cooldown_seconds,
                                 "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]}})
            alarm = {"AlarmName": f"{self.endpoint_name}-has-backlog-without-capacity",
                     "Namespace": "AWS/SageMaker", "MetricName": "HasBacklogWithoutCapacity",
                     "Dimensions": [{"Name": "EndpointName", "Value": self.endpoint_name}],
                     "Statistic": "Average", "Period": 60, "EvaluationPeriods": 2, "Threshold": 1.0,
                     "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing"}
        scheduled = [{**target, "ScheduledActionName": f"{self.endpoint_name}-{w.name}", "Schedule": w.cron,
                      "ScalableTargetAction": {"MinCapacity": w.min_instances, "MaxCapacity": w.max_instances}}
                     for w in self.config.scheduled_scaling if not self.serverless]
        return {"Target": {**target, "MinCapacity": self.min_capacity, "MaxCapacity": self.max_capacity},
                "Policies": policies, "StepAlarm": alarm, "ScheduledActions": scheduled}

    def _target_tracking(self) -> dict[str, Any]:
        cooldowns = {"ScaleInCooldown": self.config.scale_in_cooldown_seconds,
                     "ScaleOutCooldown": self.config.scale_out_cooldown_seconds}
        if self.serverless:
            return {**cooldowns, "TargetValue": 0.7, "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"}}
        if self.is_async:
            return {**cooldowns, "TargetValue": float(self.config.async_backlog_per_instance),
                    "CustomizedMetricSpecification": {
                        "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                        "Dimensions": [{"Name": "EndpointName", "Value": self.endpoint_name}],
                        "Statistic": "Average"}}
        return {**cooldowns, "TargetValue": float(self.config.target_invocations_per_instance),
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
