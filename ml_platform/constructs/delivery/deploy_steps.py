"""The pipeline's steps around each stage: the synth step, the post-deploy check, the prod model promotion.

Each post-stage step runs a script from the source artifact in CodeBuild, as one tooling-account role
that may only assume the stage's own role for that job (cross-account: the stage account's role trusts
that tooling role by `aws:PrincipalArn`; see the README, "Delivery pipeline").
"""
from __future__ import annotations

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import pipelines

from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose
from ml_platform.stages.platform_stage import MlPlatformStage

# `make synth` writes the pipeline-mode cloud assembly (this stack and the three stages) here; the
# pipeline deploys from it. The per-environment assembly in cdk.out is checked by the same command.
SYNTH_OUTPUT_DIR = "cdk.pipeline.out"
# Kept as a second artifact of the synth action: both assemblies' security reports and cfn-lint output,
# and the test results (also a CodeBuild test report).
BUILD_REPORTS_DIR = "build-reports"
SYNTH_COMMANDS = (
    f"mkdir -p {BUILD_REPORTS_DIR}",
    f"make test PYTEST_ARGS='--junitxml={BUILD_REPORTS_DIR}/tests.xml'",
    "make synth",
    f"cp cdk.out/security-report-*.md cdk.out/cfn-lint.txt {BUILD_REPORTS_DIR}/",
    f"for f in {SYNTH_OUTPUT_DIR}/security-report-*.md {SYNTH_OUTPUT_DIR}/cfn-lint.txt; do "
    f"cp \"$f\" \"{BUILD_REPORTS_DIR}/pipeline-$(basename \"$f\")\"; done",
)
APPROVAL_STEP_ID = "PromoteToProd"
CHECK_STEP_ID = "PostDeployCheck"
PROMOTE_STEP_ID = "DeployApprovedModel"


def synth_step(source: pipelines.IFileSetProducer, role: iam.IRole) -> pipelines.CodeBuildStep:
    """`make test` then `make synth`; the assembly is the primary output, the reports a second one."""
    step = pipelines.CodeBuildStep(
        "Synth", input=source, commands=list(SYNTH_COMMANDS), primary_output_directory=SYNTH_OUTPUT_DIR, role=role,
        partial_build_spec=codebuild.BuildSpec.from_object({"reports": {"tests": {
            "files": ["tests.xml"], "base-directory": BUILD_REPORTS_DIR, "file-format": "JUNITXML"}}}))
    step.add_output_directory(BUILD_REPORTS_DIR)
    return step


def approval_step(topic: sns.ITopic | None, *, running_in: PlatformConfig,
                  promote_to: PlatformConfig) -> pipelines.ManualApprovalStep:
    """The manual approval before the last stage; `topic` (if any) e-mails the approvers."""
    return pipelines.ManualApprovalStep(
        APPROVAL_STEP_ID, notification_topic=topic,
        comment=f"Promote the release already running in {running_in.environment} to "
                f"{promote_to.environment} ({promote_to.account}/{promote_to.region})?")


def post_deploy_check_step(stage: MlPlatformStage, env_config: PlatformConfig, source: pipelines.IFileSetProducer,
                           role: iam.IRole) -> pipelines.CodeBuildStep:
    """scripts/post_deploy_check.py as the stage's post-deploy-check role: pipeline, endpoint answer, alarms."""
    access = stage.post_deploy_check
    assert access is not None, "the stage was built without checker_arn"
    role.add_to_principal_policy(iam.PolicyStatement(
        sid=f"AssumePostDeployCheckRole{env_config.environment.capitalize()}", actions=["sts:AssumeRole"],
        resources=[stage.naming.role_arn(RolePurpose.POST_DEPLOY_CHECK)]))
    outputs = {"CHECK_ROLE_ARN": access.role_arn_output}
    arguments = [f"--region {env_config.region}", f"--pipeline-name {stage.training.pipeline.pipeline_name}",
                 f"--alert-topic-arn arn:aws:sns:{env_config.region}:{env_config.account}:"
                 f"{stage.naming.resource_name('alerts')}"]
    if stage.serving is not None:
        arguments.append(f"--endpoint-name {stage.serving.spec.endpoint_name}")
    if access.api_url_output is not None:
        outputs["API_URL"] = access.api_url_output
        arguments.append('--api-url "$API_URL"')
    return pipelines.CodeBuildStep(
        CHECK_STEP_ID, input=source, role=role, env_from_cfn_outputs=outputs,
        commands=["python3 scripts/post_deploy_check.py --role-arn \"$CHECK_ROLE_ARN\" " + " ".join(arguments)])


def promote_model_step(stage: MlPlatformStage, env_config: PlatformConfig, source: pipelines.IFileSetProducer,
                       role: iam.IRole) -> pipelines.CodeBuildStep:
    """After the stage's stacks: deploy the newest approved package to its endpoint and smoke-test it
    (scripts/promote_model.py), as the promote role assuming the stage's model-promotion role.
    The stage has no approval rule (prod), so this step is what puts an approved model in service."""
    promotion = stage.serving.promotion if stage.serving else None
    assert promotion is not None
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="AssumeModelPromotionRole", actions=["sts:AssumeRole"],
        resources=[f"arn:aws:iam::{env_config.account}:role/{stage.naming.role_name(RolePurpose.MODEL_PROMOTION)}"]))
    return pipelines.CodeBuildStep(
        PROMOTE_STEP_ID, input=source, role=role,
        env_from_cfn_outputs={"PROMOTION_ROLE_ARN": promotion.role_arn_output,
                              "DEPLOYER_FUNCTION": promotion.deployer_output,
                              "ENDPOINT_NAME": promotion.endpoint_output},
        commands=["python3 scripts/promote_model.py --role-arn \"$PROMOTION_ROLE_ARN\" --function-name "
                  f"\"$DEPLOYER_FUNCTION\" --endpoint-name \"$ENDPOINT_NAME\" --region {env_config.region}"])
