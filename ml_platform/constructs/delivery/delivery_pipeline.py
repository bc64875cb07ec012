"""Building blocks of the delivery pipeline: the CodePipeline, encrypted build logs, the approval topic, hardening."""
from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import pipelines
from constructs import Construct, DependencyGroup

from ml_platform import nag
from ml_platform.cfn_child import cfn_child
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.lake import access_log_bucket
from ml_platform.constructs.foundation.keys import KeyUsers, PlatformKey, logs_service_statement
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.naming import Naming
from ml_platform.retention import retention
from ml_platform.tagging import CostAllocationTags


class BuildLogs(Construct):
    """One KMS-encrypted CloudWatch log group every CodeBuild project of the pipeline logs to.

    Behaviour: its own rotating key, usable only by CloudWatch Logs of this account and region;
    retention from configuration; key and logs are retained when the stack is deleted (build logs
    are the audit trail of what was deployed). `code_build_options()` gives the CodeBuild defaults:
    standard Linux image, no privileged mode (synth needs no Docker), this log group, a timeout.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, retention_days: int) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = PlatformKey(
            self, "Key", alias=f"alias/{name_prefix}/build-logs",
            description=f"{name_prefix}: delivery pipeline build logs",
            users=KeyUsers(service_statements=[logs_service_statement(stack.region, stack.account)]),
            removal_policy=cdk.RemovalPolicy.RETAIN).key
        self.log_group = logs.LogGroup(self, "LogGroup", encryption_key=self.key,
                                       retention=retention(retention_days),
                                       removal_policy=cdk.RemovalPolicy.RETAIN)

    def code_build_options(self) -> pipelines.CodeBuildOptions:
        return pipelines.CodeBuildOptions(
            build_environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                # Synthesizing every environment with the nag packs runs several jsii processes.
                compute_type=codebuild.ComputeType.MEDIUM,
                privileged=False,
            ),
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
            timeout=cdk.Duration.minutes(60),
        )


class ApprovalTopic(Construct):
    """A KMS-encrypted, TLS-only SNS topic that e-mails `email` when a promotion awaits approval.

    Behaviour: its own rotating key whose policy lets principals of this account use it only
    through SNS in this region (the manual approval action's role publishes; CDK grants it
    `sns:Publish` and the key use on the IAM side).
    """

    def __init__(self, scope: Construct, construct_id: str, *, email: str, topic_name: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        via_sns = iam.PolicyStatement(
            sid="UseThroughSnsOfThisAccount", principals=[iam.AccountRootPrincipal()],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
            conditions={"StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com",
                                         "kms:CallerAccount": stack.account}})
        self.key = PlatformKey(self, "Key", alias=f"alias/{topic_name}", description=f"{topic_name}: approval requests",
                               users=KeyUsers(service_statements=[via_sns]),
                               removal_policy=cdk.RemovalPolicy.DESTROY).key
        self.topic = sns.Topic(self, "Topic", topic_name=topic_name, master_key=self.key, enforce_ssl=True)
        self.topic.add_subscription(subscriptions.EmailSubscription(email))


class DeliveryPipelineRoles(Construct):
    """The pipeline's own role and the synth project's role, each a `PlatformRole`.

    CDK Pipelines adds the grants it needs (artifact bucket, key, deploy-role assumption, CodeBuild
    starts) to these roles; `PlatformRole` puts them in a managed policy per role. The roles CDK
    Pipelines creates itself (self-mutation, asset publishing) cannot be passed in.
    """

    def __init__(self, scope: Construct, construct_id: str, *, naming: Naming) -> None:
        super().__init__(scope, construct_id)
        self.pipeline = PlatformRole(
            self, "Pipeline", role_name=naming.role_name(RolePurpose.DELIVERY_PIPELINE),
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
            description="Delivery pipeline: runs its actions and assumes the CDK deploy roles of each environment")
        self.synth = BuildProjectRole(
            self, "Synth", role_name=naming.role_name(RolePurpose.DELIVERY_SYNTH),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="Delivery pipeline synth build: reads the source artifact, writes the cloud assembly")
        self.promote = BuildProjectRole(
            self, "Promote", role_name=naming.role_name(RolePurpose.DELIVERY_PROMOTE),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="Delivery pipeline post-Prod build: assumes prod's model-promotion role to deploy and "
                        "smoke-test the approved model")
        self.promote_role_arn = naming.role_arn(RolePurpose.DELIVERY_PROMOTE)
        self.check = BuildProjectRole(
            self, "Check", role_name=naming.role_name(RolePurpose.DELIVERY_CHECK),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="Delivery pipeline post-deploy checks: assumes each stage's post-deploy-check role")
        self.check_role_arn = naming.role_arn(RolePurpose.DELIVERY_CHECK)


class BuildProjectRole(iam.Role):
    """`PlatformRole` for a CodeBuild project: grants in its own managed policy, attached from the policy.

    A CodeBuild project grants its role its own log group and report groups, whose ARNs name the
    project, and the project names the role. With `PlatformRole` (role lists the policy) that is
    a cycle role -> policy -> project -> role; here the policy lists the role (ManagedPolicy.Roles)
    so CloudFormation creates role, project, then policy. Nothing runs the project during the
    deployment (the pipeline starts it afterwards), so the project need not wait for the policy.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str,
                 assumed_by: iam.IPrincipal, description: str) -> None:
        super().__init__(scope, construct_id, role_name=role_name, assumed_by=assumed_by,
                         description=description)
        self.grants_policy = iam.ManagedPolicy(
            self, "GrantsPolicy", description=f"Least-privilege grants of {role_name}", roles=[self])

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self.grants_policy.add_statements(statement)
        # An empty dependable: the project must not depend on the policy that names it.
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=DependencyGroup())


def harden_artifact_bucket(scope: Construct, construct_id: str, *, pipeline: pipelines.CodePipeline) -> s3.Bucket:
    """Versioning, lifecycle and server access logs on the artifact bucket CDK Pipelines creates.

    The bucket (KMS key per `cross_account_keys`, TLS-only, public access blocked) is made by
    CodePipeline and takes no such props, so they are set after `build_pipeline()`. Returns the
    access-log bucket (SSE-S3: S3 server access logging delivers only to SSE-S3 buckets).
    """
    bucket = pipeline.pipeline.artifact_bucket
    if not isinstance(bucket, s3.Bucket):  # CodePipeline creates it (no bucket of ours is passed in)
        raise TypeError(f"{pipeline.node.path}: expected the artifact bucket CodePipeline creates")
    access_logs = access_log_bucket(scope, construct_id, expiration_days=365,
                                    removal_policy=cdk.RemovalPolicy.RETAIN)
    access_logs.add_to_resource_policy(iam.PolicyStatement(
        sid="S3ServerAccessLogsFromArtifactBucket",
        principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
        actions=["s3:PutObject"], resources=[access_logs.arn_for_objects("artifacts/*")],
        conditions={"ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account}}))
    cfn_bucket = cfn_child(bucket, s3.CfnBucket)
    cfn_bucket.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
    cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=access_logs.bucket_name, log_file_prefix="artifacts/")
    # Artifacts of old executions are not re-run; old versions only cost storage.
    bucket.add_lifecycle_rule(id="ExpireOldVersions", noncurrent_version_expiration=cdk.Duration.days(30),
                              abort_incomplete_multipart_upload_after=cdk.Duration.days(7))
    nag.acknowledge_all(bucket, nag.S3_REPLICATION,
                        "Pipeline artifacts are build outputs every execution regenerates from the source "
                        "repository; a replica would add no recovery the repository does not already give")
    nag.acknowledge_all(access_logs, nag.S3_REPLICATION,
                        "Request logs of the artifact bucket, versioned and retained in one region; the "
                        "artifacts they describe are themselves reproducible from the repository")
    return access_logs


def delivery_code_pipeline(scope: Construct, construct_id: str, *, pipeline_name: str,
                           synth: pipelines.CodeBuildStep, role: iam.IRole, build_logs: BuildLogs,
                           cli_version: str | None) -> pipelines.CodePipeline:
    """The CDK Pipelines `CodePipeline`: V2, cross-account rotating keys, no Docker, `build_logs`."""
    return pipelines.CodePipeline(
        scope, construct_id,
        pipeline_name=pipeline_name,
        synth=synth,
        # Our roles (grants in a managed policy each); actions run as the pipeline role instead
        # of one generated role per action.
        role=role,
        use_pipeline_role_for_actions=True,
        pipeline_type=codepipeline.PipelineType.V2,
        cross_account_keys=True,
        enable_key_rotation=True,
        docker_enabled_for_synth=False,
        # One CodeBuild project publishes every asset (Lambda and Glue code), not one per asset.
        publish_assets_in_parallel=False,
        cli_version=cli_version,
        code_build_defaults=build_logs.code_build_options(),
    )


def ignore_deploy_role_arn_lint(pipeline: pipelines.CodePipeline) -> None:
    """cfn-lint E3703 checks each deploy action's RoleArn against the IAM role ARN format and cannot
    evaluate CDK's Fn::Join of AWS::Partition (it reports "prefer Fn::Sub"): the ARNs are the
    target accounts' CDK bootstrap roles. Ignored on the pipeline resource only (after `build_pipeline()`)."""
    cfn_child(pipeline.pipeline, cdk.CfnResource).add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3703"]}})


def tag_tooling_resources(scope: Construct, tags: Mapping[str, str]) -> None:
    """The tooling tags on the pipeline's own resources; each stage tags its resources itself."""
    for child in scope.node.children:
        if not isinstance(child, cdk.Stage):
            cdk.Aspects.of(child).add(CostAllocationTags(tags))
