"""Monitoring stack: the engine that watches the endpoint, its function, alarms and retraining.

Engines (`monitoring.engine`): `ours` (default, every account) schedules a network-isolated
Processing job running `training_code/monitor.py`; `model_monitor` (accounts that still have
SageMaker Model Monitor) creates data-quality, model-quality, bias and feature-attribution job
definitions whose schedules the monitoring function creates when a model is deployed. Both read
the baseline the training pipeline registered with the model, publish the same metrics
(`MLPlatform/ModelMonitoring`) and raise the same alarms.
"""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import PIPELINES_PREFIX, RolePurpose
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.monitoring.alarms import MonitoringAlarms
from ml_platform.constructs.monitoring.model_monitor import EngineInputs, ModelMonitorEngine
from ml_platform.constructs.monitoring.monitoring_runner import MonitoringRunner
from ml_platform.constructs.monitoring.our_monitor import OurMonitor, Placement
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.constructs.training.code_bundle import CodeBundle
from ml_platform.constructs.training.xgboost_image import xgboost_image_uri
from ml_platform.naming import Naming
from ml_platform.paths import TRAINING_CODE_ROOT
from ml_platform.retention import retention
from ml_platform.stacks.base import PlatformStack


class MonitoringStack(PlatformStack):
    """`<Env>/Monitoring`: everything that watches `endpoint_name` once a model serves on it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 network: SecureVpc, models_key: kms.IKey, logs_key: kms.IKey, alerting: Alerting,
                 endpoint_name: str, removal_policy: cdk.RemovalPolicy, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        m = config.monitoring
        # By its literal name and ARN: readable in policies and in the acknowledged nag findings.
        bucket_name = naming.bucket_name("artifacts")
        artifacts = s3.Bucket.from_bucket_attributes(self, "Artifacts", bucket_name=bucket_name,
                                                     bucket_arn=f"arn:aws:s3:::{bucket_name}", encryption_key=models_key)
        vpc = network.vpc
        placement = Placement(subnet_ids=vpc.select_subnets(subnet_type=network.private_subnets.subnet_type).subnet_ids,
                              security_group_id=network.workload_security_group.security_group_id)
        # The same deterministic tarball as the training stack's: one asset object, monitor.py inside.
        code = CodeBundle(self, "MonitoringCode", source=TRAINING_CODE_ROOT)
        self.ours = OurMonitor(
            self, "OurMonitor", role_name=naming.role_name(RolePurpose.MONITORING_JOB),
            job_prefix=naming.resource_name("monitor"), monitoring=m, code=code,
            image_uri=xgboost_image_uri(config.region, config.training.xgboost_framework_version),
            artifacts=artifacts, models_key=models_key, placement=placement)
        environment = dict(self.ours.environment)
        self.engine = None
        if m.engine == "model_monitor":
            self.engine = ModelMonitorEngine(
                self, "ModelMonitor", role_name=naming.role_name(RolePurpose.MODEL_MONITOR), name_prefix=naming.prefix,
                inputs=EngineInputs(endpoint=endpoint_name, monitoring=m, artifacts=artifacts,
                                    models_key=models_key, placement=placement))
            environment["MODEL_MONITOR"] = self.to_json_string({endpoint_name: self.engine.watched})
        self.runner = MonitoringRunner(
            self, "Runner", role_name=naming.role_name(RolePurpose.MONITORING_RUNNER), environment=environment,
            endpoints=[endpoint_name] if m.engine == "ours" else [], cron=m.schedule,
            job_prefix=self.ours.job_prefix, model_monitor_endpoints=[endpoint_name] if self.engine else [],
            vpc=vpc, vpc_subnets=network.private_subnets, security_group=network.workload_security_group,
            models_key=models_key, logs_key=logs_key, log_retention=retention(config.log_retention_days),
            removal_policy=removal_policy, alerting=alerting)
        self.ours.grant_runner(self.runner.role, [endpoint_name],
                               package_group=naming.resource_name("models"))
        if self.engine:
            self.engine.grant_runner(self.runner.role, baselines_read=PIPELINES_PREFIX)
        pipeline_arn = (f"arn:aws:sagemaker:{config.region}:{config.account}:pipeline/"
                        f"{naming.resource_name('training')}")
        self.alarms = MonitoringAlarms(
            self, "Alarms", endpoint=endpoint_name, monitoring=m, alerting=alerting,
            retrain_pipeline_arn=pipeline_arn if m.retrain_on_drift else None,
            retrain_role_arn=naming.role_arn(RolePurpose.EVENTS_START_PIPELINE) if m.retrain_on_drift else None)
