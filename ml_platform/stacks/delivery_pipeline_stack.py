"""Delivery pipeline stack (tooling account): source -> synth -> Dev -> Staging -> approval -> Prod.

The pipeline deploys the same `MlPlatformStage` the app builds directly, once per environment, each
with its own configuration (its own account and region). Prod is promoted only after a person
approves the `PromoteToProd` manual approval step.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import pipelines
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.config_sections.delivery import PipelineConfig
from ml_platform.constructs.delivery.delivery_pipeline import (
    ApprovalTopic,
    BuildLogs,
    DeliveryPipelineRoles,
    delivery_code_pipeline,
    harden_artifact_bucket,
    ignore_deploy_role_arn_lint,
    tag_tooling_resources,
)
from ml_platform.constructs.delivery.delivery_pipeline_nag import acknowledge_delivery_pipeline_findings
from ml_platform.constructs.delivery.deploy_steps import (
    approval_step,
    post_deploy_check_step,
    promote_model_step,
    synth_step,
)
from ml_platform.constructs.workspaces.guardrails import BoundaryPolicy
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack
from ml_platform.stages.platform_stage import MlPlatformStage


class DeliveryPipelineStack(PlatformStack):
    """CDK Pipelines `CodePipeline` promoting dev, then staging, then (after approval) prod.

    Behaviour: source from a CodeConnections connection; the synth step runs `make synth` (which
    sets up the pinned Python and CDK CLI dependencies itself, runs the cdk-nag gate and cfn-lint,
    and needs no Docker); cross-account KMS keys with rotation for the artifact bucket; every
    CodeBuild project logs to one KMS-encrypted log group with the configured retention; the
    pipeline updates itself (self-mutation) before deploying the stages.
    `environments` are the stage configurations in promotion order; the last one is gated.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig,
                 environments: Sequence[PlatformConfig], cli_version: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if len(environments) < 2:
            raise ValueError("the pipeline promotes at least two environments (the last is approval-gated)")
        # The pipeline's own roles (CodePipeline, CodeBuild, actions) get the tooling account's boundary.
        BoundaryPolicy(self, "PermissionsBoundary", prefix=config.name_prefix, account=config.account).apply_to(self)
        self.build_logs = BuildLogs(self, "BuildLogs", name_prefix=config.name_prefix,
                                    retention_days=config.log_retention_days)
        self.roles = DeliveryPipelineRoles(self, "Roles", naming=Naming(config.name_prefix, config.account, config.region))
        source = pipelines.CodePipelineSource.connection(
            config.repository, config.branch, connection_arn=config.connection_arn)
        self.pipeline = delivery_code_pipeline(
            self, "Pipeline", pipeline_name=f"{config.name_prefix}-delivery",
            synth=synth_step(source, self.roles.synth), role=self.roles.pipeline, build_logs=self.build_logs,
            cli_version=cli_version)
        self.approval_topic = None
        if config.approval_email:
            self.approval_topic = ApprovalTopic(self, "ApprovalTopic", email=config.approval_email,
                                                topic_name=f"{config.name_prefix}-prod-approval").topic
        self.stages: list[MlPlatformStage] = []
        self.promote_step: pipelines.CodeBuildStep | None = None
        self.check_steps: list[pipelines.CodeBuildStep] = []
        *earlier, last = environments
        for env_config in earlier:
            self._add_stage(env_config, source=source)
        self._add_stage(last, pre=[approval_step(self.approval_topic, running_in=earlier[-1], promote_to=last)],
                        source=source, promote_model=True)
        self.pipeline.build_pipeline()
        ignore_deploy_role_arn_lint(self.pipeline)
        self.artifact_access_logs = harden_artifact_bucket(self, "ArtifactAccessLogs", pipeline=self.pipeline)
        acknowledge_delivery_pipeline_findings(self.pipeline, self.roles, self.promote_step, self.check_steps)
        tag_tooling_resources(self, config.tags.as_dict())

    def _add_stage(self, env_config: PlatformConfig, *, source: pipelines.IFileSetProducer,
                   pre: Sequence[pipelines.Step] = (), promote_model: bool = False) -> None:
        """The stage, then its post-deploy check (after the model promotion where there is one)."""
        promoter = self.roles.promote_role_arn if promote_model else None
        stage = MlPlatformStage(self, env_config.environment.capitalize(), config=env_config, promoter_arn=promoter,
                                checker_arn=self.roles.check_role_arn)
        check = post_deploy_check_step(stage, env_config, source, self.roles.check)
        post: list[pipelines.Step] = []
        if promote_model and stage.serving:
            self.promote_step = promote_model_step(stage, env_config, source, self.roles.promote)
            check.add_step_dependency(self.promote_step)
            post.append(self.promote_step)
        post.append(check)
        self.check_steps.append(check)
        self.pipeline.add_stage(stage, pre=list(pre), post=post)
        self.stages.append(stage)
