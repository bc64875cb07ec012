"""Delivery pipeline stack (tooling account): source -> synth -> Dev -> Staging -> approval -> Prod.

The pipeline deploys the same `MlPlatformStage` the app builds directly, once per environment, each
with its own configuration (its own account and region). Prod is promoted only after a person
approves the `PromoteToProd` manual approval step.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from ml_platform.cfn_child import cfn_child
from ml_platform.config import PlatformConfig
from ml_platform.config_sections.delivery import PipelineConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.delivery.delivery_pipeline import (
    ApprovalTopic,
    BuildLogs,
    DeliveryPipelineRoles,
    harden_artifact_bucket,
)
from ml_platform.constructs.delivery.delivery_pipeline_nag import acknowledge_delivery_pipeline_findings
from ml_platform.constructs.workspaces.guardrails import BoundaryPolicy
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack
from ml_platform.stages.platform_stage import MlPlatformStage
from ml_platform.tagging import CostAllocationTags

# `make synth` writes the pipeline-mode cloud assembly (this stack and the three stages) here; the
# pipeline deploys from it. The per-environment assembly in cdk.out is checked by the same command.
SYNTH_OUTPUT_DIR = "cdk.pipeline.out"
SYNTH_COMMANDS = ("make synth",)
APPROVAL_STEP_ID = "PromoteToProd"
PROMOTE_STEP_ID = "DeployApprovedModel"


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
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline",
            pipeline_name=f"{config.name_prefix}-delivery",
            synth=pipelines.CodeBuildStep("Synth", input=source, commands=list(SYNTH_COMMANDS),
                                          primary_output_directory=SYNTH_OUTPUT_DIR, role=self.roles.synth),
            # Our roles (grants in a managed policy each); actions run as the pipeline role instead
            # of one generated role per action.
            role=self.roles.pipeline,
            use_pipeline_role_for_actions=True,
            pipeline_type=codepipeline.PipelineType.V2,
            cross_account_keys=True,
            enable_key_rotation=True,
            docker_enabled_for_synth=False,
            # One CodeBuild project publishes every asset (Lambda and Glue code), not one per asset.
            publish_assets_in_parallel=False,
            cli_version=cli_version,
            code_build_defaults=self.build_logs.code_build_options(),
        )
        self.approval_topic = None
        if config.approval_email:
            self.approval_topic = ApprovalTopic(self, "ApprovalTopic", email=config.approval_email,
                                                topic_name=f"{config.name_prefix}-prod-approval").topic
        self.stages: list[MlPlatformStage] = []
        self.promote_step: pipelines.CodeBuildStep | None = None
        *earlier, last = environments
        for env_config in earlier:
            self._add_stage(env_config)
        self._add_stage(last, pre=[pipelines.ManualApprovalStep(
            APPROVAL_STEP_ID, notification_topic=self.approval_topic,
            comment=f"Promote the release already running in {earlier[-1].environment} to "
                    f"{last.environment} ({last.account}/{last.region})?")], source=source, promote_model=True)
        self.pipeline.build_pipeline()
        # cfn-lint E3703 checks each deploy action's RoleArn against the IAM role ARN format and cannot
        # evaluate CDK's Fn::Join of AWS::Partition (it reports "prefer Fn::Sub"): the ARNs are the
        # target accounts' CDK bootstrap roles. Ignored on this one resource only.
        cfn_child(self.pipeline.pipeline, cdk.CfnResource).add_metadata(
            "cfn-lint", {"config": {"ignore_checks": ["E3703"]}})
        self.artifact_access_logs = harden_artifact_bucket(self, "ArtifactAccessLogs", pipeline=self.pipeline)
        acknowledge_delivery_pipeline_findings(self.pipeline, self.roles, self.promote_step)
        # The tooling tags go on the pipeline's own resources; each stage tags its resources itself.
        for child in self.node.children:
            if not isinstance(child, cdk.Stage):
                cdk.Aspects.of(child).add(CostAllocationTags(config.tags.as_dict()))

    def _add_stage(self, env_config: PlatformConfig, *, pre: Sequence[pipelines.Step] = (),
                   source: pipelines.IFileSetProducer | None = None, promote_model: bool = False) -> None:
        promoter = self.roles.promote_role_arn if promote_model else None
        stage = MlPlatformStage(self, env_config.environment.capitalize(), config=env_config, promoter_arn=promoter)
        post: list[pipelines.Step] = []
        if promote_model and stage.serving:
            self.promote_step = self._promote_model_step(stage, env_config, source)
            post.append(self.promote_step)
        self.pipeline.add_stage(stage, pre=list(pre), post=post)
        self.stages.append(stage)

    def _promote_model_step(self, stage: MlPlatformStage, env_config: PlatformConfig,
                            source: pipelines.IFileSetProducer | None) -> pipelines.CodeBuildStep:
        """After the stage's stacks: deploy the newest approved package to its endpoint and smoke-test it
        (scripts/promote_model.py), as the promote role assuming the stage's model-promotion role.
        The stage has no approval rule (prod), so this step is what puts an approved model in service."""
        promotion = stage.serving.promotion if stage.serving else None
        assert promotion is not None and source is not None
        self.roles.promote.add_to_principal_policy(iam.PolicyStatement(
            sid="AssumeModelPromotionRole", actions=["sts:AssumeRole"],
            resources=[f"arn:aws:iam::{env_config.account}:role/{stage.naming.role_name(RolePurpose.MODEL_PROMOTION)}"]))
        return pipelines.CodeBuildStep(
            PROMOTE_STEP_ID, input=source, role=self.roles.promote,
            env_from_cfn_outputs={"PROMOTION_ROLE_ARN": promotion.role_arn_output,
                                  "DEPLOYER_FUNCTION": promotion.deployer_output,
                                  "ENDPOINT_NAME": promotion.endpoint_output},
            commands=["python3 scripts/promote_model.py --role-arn \"$PROMOTION_ROLE_ARN\" --function-name "
                      f"\"$DEPLOYER_FUNCTION\" --endpoint-name \"$ENDPOINT_NAME\" --region {env_config.region}"])
