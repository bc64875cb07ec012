"""A SageMaker endpoint from a pinned model, its rollback alarms and its autoscaling."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.constructs.serving.endpoint_spec import EndpointSpec


class RollbackAlarms(Construct):
    """Alarms on the endpoint's variant that roll a blue/green deployment back.

    Behaviour: invocation 5xx errors (sum per minute) and model latency (average, microseconds in
    CloudWatch) on `EndpointName`/`VariantName`; names are stable (`<endpoint>-5xx-errors`,
    `<endpoint>-model-latency`) because the deployer names them in its DeploymentConfig; missing
    data is not breaching (an idle endpoint is healthy); breaches notify `alerting`'s topic.
    """

    def __init__(self, scope: Construct, construct_id: str, *, spec: EndpointSpec,
                 alerting: Alerting) -> None:
        super().__init__(scope, construct_id)
        dims = {"EndpointName": spec.endpoint_name, "VariantName": spec.variant_name}
        errors = cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation5XXErrors",
                                   dimensions_map=dims, statistic="Sum", period=cdk.Duration.minutes(1))
        latency = cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="ModelLatency",
                                    dimensions_map=dims, statistic="Average", period=cdk.Duration.minutes(1))
        self.errors = cloudwatch.Alarm(
            self, "Invocation5xxErrors", alarm_name=f"{spec.endpoint_name}-5xx-errors", metric=errors,
            threshold=spec.config.error_5xx_alarm_count, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="Model container answered with 5xx errors; rolls back a deployment in progress")
        self.latency = cloudwatch.Alarm(
            self, "ModelLatency", alarm_name=f"{spec.endpoint_name}-model-latency", metric=latency,
            threshold=spec.config.latency_alarm_ms * 1000, evaluation_periods=3, datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Model latency above {spec.config.latency_alarm_ms} ms; rolls back a deployment")
        alerting.notify(*self.alarms)

    @property
    def alarms(self) -> list[cloudwatch.Alarm]:
        return [self.errors, self.latency]

    @property
    def alarm_names(self) -> list[str]:
        return [a.alarm_name for a in self.alarms]


_PREDEFINED = {
    "SageMakerVariantInvocationsPerInstance": appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
    "SageMakerVariantProvisionedConcurrencyUtilization":
        appscaling.PredefinedMetric.SAGEMAKER_VARIANT_PROVISIONED_CONCURRENCY_UTILIZATION,
}


def content_name(prefix: str, content: object, *, max_length: int = 63) -> str:
    """`<prefix>-<hash>`: a new name for every new content, so an update never collides with the old."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{prefix[: max_length - 13]}-{digest}"


class ModelEndpoint(Construct):
    """Model, endpoint configuration and endpoint for a model pinned in configuration.

    Behaviour: the model runs with `execution_role`, in the isolated subnets with network
    isolation (except serverless, which SageMaker runs outside any VPC); the endpoint
    configuration is named from a hash of its content, encrypts volumes and outputs with `key_arn`,
    captures the configured share of requests; the endpoint rolls out blue/green with the
    configured traffic shifting, baking period and alarm rollback, and keeps autoscaled variant
    properties on update (RetainAllVariantProperties).
    """

    def __init__(self, scope: Construct, construct_id: str, *, spec: EndpointSpec, alarm_names: Sequence[str],
                 execution_role: iam.IRole, vpc_subnets: Sequence[ec2.ISubnet],
                 security_group: ec2.ISecurityGroup, model_package_arn: str | None = None,
                 model_data_url: str | None = None, image_uri: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.model = sagemaker.CfnModel(
            self, "Model", execution_role_arn=execution_role.role_arn,
            primary_container=_container(spec, model_package_arn, model_data_url, image_uri),
            enable_network_isolation=spec.in_vpc,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=[s.subnet_id for s in vpc_subnets],
                security_group_ids=[security_group.security_group_id]) if spec.in_vpc else None)
        self.model.node.add_dependency(execution_role)
        stack = cdk.Stack.of(self)
        content = stack.resolve({"api": spec.api_document(list(alarm_names)), "package": model_package_arn,
                                 "data": model_data_url, "image": image_uri})
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "Config", endpoint_config_name=content_name(f"{spec.endpoint_name}-config", content),
            kms_key_id=spec.kms_key_arn,
            production_variants=[_variant(spec, self.model.attr_model_name)],
            data_capture_config=_data_capture(spec), async_inference_config=_async(spec))
        deployment = spec.deployment_config(list(alarm_names))
        routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_name=spec.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            retain_all_variant_properties=True,
            deployment_config=sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    termination_wait_in_seconds=spec.config.baking_period_seconds,
                    traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                        type=routing["Type"], wait_interval_in_seconds=routing["WaitIntervalInSeconds"],
                        canary_size=_capacity(routing.get("CanarySize")),
                        linear_step_size=_capacity(routing.get("LinearStepSize")))),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=n) for n in alarm_names])))
        self.scalable_target = self._autoscaling()

    def _autoscaling(self) -> appscaling.ScalableTarget | None:
        spec, doc = self.spec, self.spec.scaling_document()
        if doc is None:
            return None
        target = appscaling.ScalableTarget(
            self, "ScalableTarget", service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=spec.scaling_resource_id, scalable_dimension=doc["Target"]["ScalableDimension"],
            min_capacity=doc["Target"]["MinCapacity"], max_capacity=doc["Target"]["MaxCapacity"])
        target.node.add_dependency(self.endpoint)
        tracking = doc["Policies"][0]["TargetTrackingScalingPolicyConfiguration"]
        predefined = tracking.get("PredefinedMetricSpecification")
        custom = tracking.get("CustomizedMetricSpecification")
        target.scale_to_track_metric(
            "TargetTracking", target_value=tracking["TargetValue"],
            predefined_metric=_PREDEFINED[predefined["PredefinedMetricType"]]
            if predefined else None,
            custom_metric=cloudwatch.Metric(
                namespace=custom["Namespace"], metric_name=custom["MetricName"], statistic="Average",
                dimensions_map={d["Name"]: d["Value"] for d in custom["Dimensions"]}) if custom else None,
            scale_in_cooldown=cdk.Duration.seconds(spec.config.scale_in_cooldown_seconds),
            scale_out_cooldown=cdk.Duration.seconds(spec.config.scale_out_cooldown_seconds))
        if doc["StepAlarm"] is not None:
            alarm = doc["StepAlarm"]
            # From zero instances the backlog-per-instance metric has no value: this step adds the first.
            target.scale_on_metric(
                "BacklogWithoutCapacity",
                metric=cloudwatch.Metric(namespace=alarm["Namespace"], metric_name=alarm["MetricName"],
                                         dimensions_map={"EndpointName": spec.endpoint_name},
                                         statistic="Average", period=cdk.Duration.minutes(1)),
                scaling_steps=[appscaling.ScalingInterval(upper=0.5, change=0),
                               appscaling.ScalingInterval(lower=1, change=1)],
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY, evaluation_periods=2,
                cooldown=cdk.Duration.seconds(spec.config.scale_out_cooldown_seconds))
        for action in doc["ScheduledActions"]:
            window = action["ScalableTargetAction"]
            target.scale_on_schedule(
                action["ScheduledActionName"].removeprefix(f"{spec.endpoint_name}-"),
                schedule=appscaling.Schedule.expression(action["Schedule"]),
                time_zone=cdk.TimeZone.of(action["Timezone"]) if "Timezone" in action else None,
                min_capacity=window["MinCapacity"], max_capacity=window["MaxCapacity"])
        return target


def _container(spec: EndpointSpec, package: str | None, data_url: str | None,
               image: str | None) -> sagemaker.CfnModel.ContainerDefinitionProperty:
    if package:
        return sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=package)
    return sagemaker.CfnModel.ContainerDefinitionProperty(
        image=image, model_data_url=data_url, mode="MultiModel" if spec.config.multi_model else "SingleModel")


def _variant(spec: EndpointSpec, model_name: str) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    v = spec.production_variant()
    serverless = v.get("ServerlessConfig")
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=v["VariantName"], model_name=model_name,
        instance_type=v.get("InstanceType"), initial_instance_count=v.get("InitialInstanceCount"),
        initial_variant_weight=v.get("InitialVariantWeight"),
        serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
            max_concurrency=serverless["MaxConcurrency"], memory_size_in_mb=serverless["MemorySizeInMB"],
            provisioned_concurrency=serverless.get("ProvisionedConcurrency")) if serverless else None)


def _data_capture(spec: EndpointSpec) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty | None:
    c = spec.data_capture()
    if c is None:
        return None
    P = sagemaker.CfnEndpointConfig
    return P.DataCaptureConfigProperty(
        enable_capture=True, initial_sampling_percentage=c["InitialSamplingPercentage"],
        destination_s3_uri=c["DestinationS3Uri"], kms_key_id=c["KmsKeyId"],
        capture_options=[P.CaptureOptionProperty(capture_mode=o["CaptureMode"]) for o in c["CaptureOptions"]],
        capture_content_type_header=P.CaptureContentTypeHeaderProperty(
            csv_content_types=c["CaptureContentTypeHeader"]["CsvContentTypes"],
            json_content_types=c["CaptureContentTypeHeader"]["JsonContentTypes"]))


def _async(spec: EndpointSpec) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty | None:
    a = spec.async_inference()
    if a is None:
        return None
    P, out = sagemaker.CfnEndpointConfig, a["OutputConfig"]
    return P.AsyncInferenceConfigProperty(
        client_config=P.AsyncInferenceClientConfigProperty(
            max_concurrent_invocations_per_instance=a["ClientConfig"]["MaxConcurrentInvocationsPerInstance"]),
        output_config=P.AsyncInferenceOutputConfigProperty(
            s3_output_path=out["S3OutputPath"], s3_failure_path=out["S3FailurePath"], kms_key_id=out["KmsKeyId"],
            notification_config=P.AsyncInferenceNotificationConfigProperty(
                success_topic=out["NotificationConfig"]["SuccessTopic"],
                error_topic=out["NotificationConfig"]["ErrorTopic"])))


def _capacity(size: dict[str, Any] | None) -> sagemaker.CfnEndpoint.CapacitySizeProperty | None:
    return None if size is None else sagemaker.CfnEndpoint.CapacitySizeProperty(type=size["Type"], value=size["Value"])
