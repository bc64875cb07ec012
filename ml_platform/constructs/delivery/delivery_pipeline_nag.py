"""cdk-nag acknowledgments for what CDK Pipelines generates, each on the one resource it concerns.

CDK Pipelines writes its grants itself (artifact bucket, artifact key, CodeBuild logs and report
groups, CDK bootstrap roles); the wildcards below are the shapes of those grants, every one scoped
to a single bucket, key, project or role family. Call after `build_pipeline()`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines
from constructs import IConstruct

from ml_platform import nag
from ml_platform.cfn_child import cfn_child
from ml_platform.constructs.delivery.delivery_pipeline import DeliveryPipelineRoles

_ARTIFACT_RW = ("CDK's read/write grant on the pipeline's own artifact bucket: the wildcard covers the object "
                "versions, tags and multipart uploads of that one KMS-encrypted bucket only")
_ARTIFACT_KEY = ("CDK's encrypt/decrypt grant on the artifact bucket's own KMS key (one key ARN); "
                 "GenerateDataKey*/ReEncrypt* are the data-key variants S3 SSE-KMS uses")
_PROJECT_LOGS = ("CodeBuild's default log group /aws/codebuild/<this project>: the wildcard is the log streams "
                 "of this one project (builds also log to the KMS-encrypted pipeline log group)")
_PROJECT_REPORTS = ("CodeBuild test-report groups named after this one project (<project>-*), which CodeBuild "
                    "creates on demand; no other project's report groups match")
_SOURCE_REPO = ("The project's source is CODEPIPELINE: it reads the KMS-encrypted source artifact, never a "
                "repository URL, and has no credentials; the repository is reached by the CodeConnections connection")
_INLINE = ("Role and policy are generated inside CDK Pipelines (self-mutation/asset publishing) and cannot be "
           "replaced by a PlatformRole; the statements are CDK's scoped grants, reviewed in this report")


@dataclass(frozen=True)
class _ArtifactGrants:
    """The findings of CDK's grants on the pipeline's artifact bucket and its key, as every role gets them."""

    read: dict[str, str]
    write: dict[str, str]
    key: dict[str, str]

    @classmethod
    def of(cls, pipeline: pipelines.CodePipeline) -> _ArtifactGrants:
        bucket = pipeline.pipeline.artifact_bucket
        return cls(
            read={nag.object_arn_finding(cfn_child(bucket, cdk.CfnResource)): _ARTIFACT_RW,
                  **{nag.wildcard_finding(f"Action::s3:{a}"): _ARTIFACT_RW
                     for a in ("GetBucket*", "GetObject*", "List*")}},
            write={nag.wildcard_finding(f"Action::s3:{a}"): _ARTIFACT_RW for a in ("Abort*", "DeleteObject*")},
            key={nag.wildcard_finding(f"Action::kms:{a}"): _ARTIFACT_KEY for a in ("GenerateDataKey*", "ReEncrypt*")})


def acknowledge_delivery_pipeline_findings(pipeline: pipelines.CodePipeline, roles: DeliveryPipelineRoles,
                                           promote_step: pipelines.CodeBuildStep | None = None,
                                           check_steps: Sequence[pipelines.CodeBuildStep] = ()) -> None:
    """Every finding on the grants CDK Pipelines writes: our roles', its own roles', its projects'."""
    artifacts = _ArtifactGrants.of(pipeline)
    step_projects = _acknowledge_our_roles(pipeline, roles, artifacts, promote_step, check_steps)
    self_mutation = _acknowledge_self_mutation(pipeline, artifacts)
    file_asset = _acknowledge_asset_publishing(pipeline, artifacts)
    for project in [pipeline.synth_project, self_mutation, file_asset, *step_projects]:
        # NIST 800-53 rev 5 raises no such finding on these projects (tests/infra/test_stale_acknowledgments.py).
        nag.acknowledge_all(project, [f"{pack}-CodeBuildProjectSourceRepoUrl"
                                      for pack in ("HIPAA.Security", "PCI.DSS.321")], _SOURCE_REPO)


def _project_findings(project: codebuild.IProject) -> dict[str, str]:
    """The project's own default log group and report groups, both named after its logical ID."""
    stack = cdk.Stack.of(project)
    logical_id = stack.get_logical_id(cfn_child(project, cdk.CfnElement))
    return {
        nag.wildcard_finding(f"Resource::arn:aws:logs:{stack.region}:{stack.account}:log-group:"
                             f"/aws/codebuild/<{logical_id}>:*"): _PROJECT_LOGS,
        nag.wildcard_finding(f"Resource::arn:aws:codebuild:{stack.region}:{stack.account}:report-group/"
                             f"<{logical_id}>-*"): _PROJECT_REPORTS,
    }


def _acknowledge_our_roles(pipeline: pipelines.CodePipeline, roles: DeliveryPipelineRoles, artifacts: _ArtifactGrants,
                           promote_step: pipelines.CodeBuildStep | None,
                           check_steps: Sequence[pipelines.CodeBuildStep]) -> list[codebuild.IProject]:
    """The grants CDK Pipelines adds to the roles we pass in; returns the post-stage steps' projects."""
    _acknowledge(roles.pipeline.grants_policy, {**artifacts.read, **artifacts.write, **artifacts.key})
    _acknowledge(roles.synth.grants_policy, {**artifacts.read, **artifacts.write, **artifacts.key,
                                             **_project_findings(pipeline.synth_project)})
    step_projects = []
    if promote_step is not None:
        # The post-Prod step reads the source artifact (scripts/) and assumes prod's promotion role.
        _acknowledge(roles.promote.grants_policy, {**artifacts.read, **artifacts.key,
                                                   **_project_findings(promote_step.project)})
        step_projects.append(promote_step.project)
    if check_steps:
        # One role for every stage's post-deploy check: reads the source artifact (scripts/), assumes
        # the stage's post-deploy-check role; each check project logs and reports under its own name.
        findings = {**artifacts.read, **artifacts.key}
        for step in check_steps:
            findings.update(_project_findings(step.project))
            step_projects.append(step.project)
        _acknowledge(roles.check.grants_policy, findings)
    return step_projects


def _acknowledge_self_mutation(pipeline: pipelines.CodePipeline, artifacts: _ArtifactGrants) -> codebuild.IProject:
    """The self-mutation project's generated role (CDK CLI lookups, bootstrap-role assumption); returns the project."""
    self_mutation = pipeline.self_mutation_project
    account = cdk.Stack.of(pipeline).account
    _acknowledge(_default_policy(self_mutation.role), {
        **artifacts.read, **artifacts.key, **_project_findings(self_mutation),
        nag.wildcard_finding(f"Resource::arn:*:iam::{account}:role/*"):
            "sts:AssumeRole only on roles tagged aws-cdk:bootstrap-role deploy/file-publishing/"
            "image-publishing (condition on the statement): the CDK bootstrap roles whose names it cannot know",
        nag.wildcard_finding("Resource::*"):
            "cloudformation:DescribeStacks and s3:ListBucket, read-only: the CDK CLI looks up the bootstrap "
            "stack and staging bucket of the tooling account before updating the pipeline",
    })
    nag.acknowledge_all(_default_policy(self_mutation.role), nag.IAM_INLINE_POLICY, _INLINE)
    return self_mutation


def _acknowledge_asset_publishing(pipeline: pipelines.CodePipeline, artifacts: _ArtifactGrants) -> IConstruct:
    """The asset-publishing role CDK Pipelines shares among its asset projects; returns the file-asset project."""
    stack = cdk.Stack.of(pipeline)
    assets = pipeline.node.find_child("Assets")
    file_role = assets.node.find_child("FileRole")
    _acknowledge(_default_policy(file_role), {
        **artifacts.read,
        nag.wildcard_finding(f"Resource::arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/*"):
            "CDK Pipelines' asset-publishing role is shared by its asset projects; the wildcard is CodeBuild's "
            "own log groups of this account and region, write-only (create group/stream, put events)",
        nag.wildcard_finding(f"Resource::arn:aws:codebuild:{stack.region}:{stack.account}:report-group/*"):
            "CodeBuild test-report writes of the asset projects sharing this role; report groups hold "
            "build test results only, in this account and region",
        nag.wildcard_finding("Resource::*"):
            "codebuild:StartBuild/BatchGetBuilds/StopBuild as granted by CDK Pipelines to its asset-publishing "
            "role; publishing itself happens through the named cdk file-publishing roles only",
    })
    nag.acknowledge_all(_default_policy(file_role), nag.IAM_INLINE_POLICY, _INLINE)
    return assets.node.find_child("FileAsset")


def _default_policy(role: IConstruct | None) -> IConstruct:
    if role is None:
        raise TypeError("expected a CodeBuild project role created by CDK Pipelines")
    return role.node.find_child("DefaultPolicy")


def _acknowledge(policy: IConstruct, findings: dict[str, str]) -> None:
    for finding, reason in findings.items():
        nag.acknowledge(policy, finding, reason)
