"""Persona roles, in the spirit of SageMaker Role Manager: each person works as one of four roles that
hold only what that work needs. All are Studio execution roles (assumed by SageMaker on the person's
behalf); every one gets the platform's permissions boundary and the SageMaker guardrails.

| persona | may |
|---|---|
| data scientist | query the curated and features zones (Lake Formation by LF-tag, the Athena workgroup); start the training pipeline; read model packages; run training and processing jobs as the platform's job roles (inside the guardrails) |
| ML engineer | what a data scientist may, and approve or reject model packages (the only persona that may) and read endpoints |
| labeling administrator | create, follow and stop labeling jobs named `<prefix>-*`; read and write labeling manifests under the raw zone's `labeling/` prefix |
| auditor | read-only: describe and list SageMaker resources, read CloudWatch metrics, alarms and logs, read IAM |
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform import nag
from ml_platform.config_sections.workspaces import Persona
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.athena import QueryWorkgroup
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.features.feature_group import FeatureGroup
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.training.model_registry import ModelRegistry
from ml_platform.grant_acknowledgments import KMS, S3_READ_WRITE, acknowledge_grants, object_arns
from ml_platform.naming import Naming

PERSONA_PURPOSE = {Persona.DATA_SCIENTIST: RolePurpose.PERSONA_DATA_SCIENTIST,
                   Persona.ML_ENGINEER: RolePurpose.PERSONA_ML_ENGINEER,
                   Persona.LABELING_ADMIN: RolePurpose.PERSONA_LABELING_ADMIN,
                   Persona.AUDITOR: RolePurpose.PERSONA_AUDITOR}
ANALYSIS_ZONES = ("curated", "features")
# The models key encrypts Athena results, the Studio domain's storage and shared notebooks; the lake
# key the raw zone where labeling manifests live.
PERSONA_MODELS_KEY_USERS = tuple(PERSONA_PURPOSE.values())
PERSONA_LAKE_KEY_USERS = (RolePurpose.PERSONA_LABELING_ADMIN,)
# The lake key also encrypts both stores of every feature group: the analysis personas read them.
PERSONA_FEATURE_STORE_KEY_USERS = (RolePurpose.PERSONA_DATA_SCIENTIST, RolePurpose.PERSONA_ML_ENGINEER)
LABELING_PREFIX = "labeling/"
# Managing the private workforce's members: invite, group (= workteam membership), disable, read.
WORKFORCE_MEMBER_ACTIONS = [
    "cognito-idp:AdminCreateUser", "cognito-idp:AdminGetUser", "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminEnableUser", "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminRemoveUserFromGroup",
    "cognito-idp:AdminListGroupsForUser", "cognito-idp:ListUsers", "cognito-idp:ListUsersInGroup",
    "cognito-idp:ListGroups"]


def persona_lake_key_users(*, features_enabled: bool) -> tuple[RolePurpose, ...]:
    """The persona roles the lake key must admit (a key policy may only name roles that exist)."""
    return PERSONA_LAKE_KEY_USERS + (PERSONA_FEATURE_STORE_KEY_USERS if features_enabled else ())


@dataclass(frozen=True)
class LabelingAccess:
    """What the labeling administrator launches and manages, where labeling is enabled."""

    state_machine_arns: Sequence[str]  # the job launcher and active learning
    workteam_arn: str
    ground_truth_role_arn: str
    user_pool_arn: str | None  # None: an existing workforce, whose members are managed elsewhere


@dataclass(frozen=True)
class PersonaResources:
    """What the personas work on, from the stacks that own it."""

    governance: LakeGovernance
    workgroup: QueryWorkgroup
    registry: ModelRegistry
    training_pipeline_arn: str
    job_role_arns: tuple[str, ...]
    raw_bucket: s3.IBucket
    lake_key: kms.IKey
    feature_groups: Sequence[FeatureGroup] = field(default_factory=tuple)
    labeling: LabelingAccess | None = None


class PersonaRoles(Construct):
    """One `PlatformRole` per persona (`self.roles[persona]`), trusted by SageMaker (Studio)."""

    def __init__(self, scope: Construct, construct_id: str, *, naming: Naming, resources: PersonaResources) -> None:
        super().__init__(scope, construct_id)
        self._naming, self._res = naming, resources
        self.roles: dict[Persona, PlatformRole] = {
            persona: PlatformRole(self, persona.title().replace("-", ""), role_name=naming.role_name(purpose),
                                  assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                                  description=f"Studio execution role of the {persona.value} persona")
            for persona, purpose in PERSONA_PURPOSE.items()}
        for persona in (Persona.DATA_SCIENTIST, Persona.ML_ENGINEER):
            self._grant_analysis(self.roles[persona])
            self._grant_features(self.roles[persona], online=persona is Persona.ML_ENGINEER)
        resources.registry.grant_approve(self.roles[Persona.ML_ENGINEER])
        self._grant_labeling(self.roles[Persona.LABELING_ADMIN])
        self._grant_audit(self.roles[Persona.AUDITOR])

    def _sagemaker_arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self._naming.region}:{self._naming.account}:{kind}/{name}"

    def _grant_analysis(self, role: PlatformRole) -> None:
        res = self._res
        res.workgroup.grant_query(role)
        res.governance.grant_read(role, zones=ANALYSIS_ZONES)
        res.registry.grant_read(role)
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="StartAndFollowTheTrainingPipeline",
            actions=["sagemaker:StartPipelineExecution", "sagemaker:DescribePipeline",
                     "sagemaker:ListPipelineExecutions", "sagemaker:DescribePipelineExecution",
                     "sagemaker:ListPipelineExecutionSteps"],
            resources=[res.training_pipeline_arn, f"{res.training_pipeline_arn}/execution/*"]))
        prefix = self._naming.prefix
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ExperimentJobsNamedForThePlatform",
            actions=["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:DescribeTrainingJob",
                     "sagemaker:DescribeProcessingJob", "sagemaker:StopTrainingJob", "sagemaker:StopProcessingJob"],
            resources=[self._sagemaker_arn("training-job", f"{prefix}-*"),
                       self._sagemaker_arn("processing-job", f"{prefix}-*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassJobRolesToSageMaker", actions=["iam:PassRole"], resources=list(res.job_role_arns),
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))

    def _grant_features(self, role: PlatformRole, *, online: bool) -> None:
        """Every feature group's offline store (data scientists and ML engineers train and analyse on
        it); the online store for the ML engineer, who checks what the endpoint would be served.
        Lake Formation SELECT on the features zone comes with `_grant_analysis` (a second grant of
        the same LF-tag expression to the same role would be a duplicate resource)."""
        for group in self._res.feature_groups:
            if group.config.offline_store:
                group.grant_read_offline(role, scope=self, lake_formation=False)
            if online and group.config.online_store.enabled:
                group.grant_read_online(role)

    def _grant_labeling(self, role: PlatformRole) -> None:
        prefix = self._naming.prefix
        jobs = self._sagemaker_arn("labeling-job", f"{prefix}-*")
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="FollowAndStopPlatformLabelingJobs",
            actions=["sagemaker:DescribeLabelingJob", "sagemaker:StopLabelingJob"], resources=[jobs]))
        self._res.raw_bucket.grant_read_write(role, f"{LABELING_PREFIX}*")
        self._res.lake_key.grant_encrypt_decrypt(role)
        if self._res.labeling is not None:
            self._grant_labeling_operations(role, self._res.labeling, jobs)

    def _grant_labeling_operations(self, role: PlatformRole, labeling: LabelingAccess, jobs: str) -> None:
        """Launching labeling (the launcher and active-learning state machines, or a job directly as
        the Ground Truth role), the workteam, and its members in the workforce's user pool only."""
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="LaunchLabelingStateMachines",
            actions=["states:StartExecution", "states:DescribeStateMachine", "states:ListExecutions"],
            resources=list(labeling.state_machine_arns)))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="CreatePlatformLabelingJobs", actions=["sagemaker:CreateLabelingJob"], resources=[jobs]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassTheGroundTruthRole", actions=["iam:PassRole"], resources=[labeling.ground_truth_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ThePlatformWorkteam", actions=["sagemaker:DescribeWorkteam", "sagemaker:ListLabelingJobsForWorkteam"],
            resources=[labeling.workteam_arn]))
        if labeling.user_pool_arn is not None:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="WorkforceMembers", actions=WORKFORCE_MEMBER_ACTIONS, resources=[labeling.user_pool_arn]))

    def _grant_audit(self, role: PlatformRole) -> None:
        # Reading everything is the auditor's work: the read-only verbs below have no resource scope
        # that covers "every SageMaker resource of the account" other than "*".
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadOnlyAudit",
            actions=["sagemaker:Describe*", "sagemaker:List*", "sagemaker:Search", "sagemaker:GetModelPackageGroupPolicy",
                     "cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics",
                     "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents",
                     "iam:GetRole", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListRoles",
                     "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:GetRolePolicy"],
            resources=["*"]))


def acknowledge_persona_grants(personas: PersonaRoles) -> None:
    """The IAM5 findings of the persona grants, each with the reason its wildcard is as narrow as the
    API allows."""
    res, naming = personas._res, personas._naming
    base = f"arn:aws:sagemaker:{naming.region}:{naming.account}"
    studio: dict[str, str] = {}
    analysis = {
        f"Resource::{res.registry.versions_arn}": "model package versions are numbered at registration: the "
                                                  "wildcard is the version number in the platform's one group",
        f"Resource::{res.training_pipeline_arn}/execution/*": "executions of the training pipeline are named by "
                                                              "SageMaker at start; only this pipeline's",
        f"Resource::{base}:training-job/{naming.prefix}-*": "experiment jobs must carry the platform's name prefix",
        f"Resource::{base}:processing-job/{naming.prefix}-*": "experiment jobs must carry the platform's name prefix",
        object_arns(res.workgroup._results_bucket, "athena-results/"): "Athena writes each query's results under "
                                                                        "a key it generates below the workgroup prefix",
        "Resource::*": "lakeformation:GetDataAccess has no resource-level permissions; Lake Formation vends "
                       "credentials only for tables the persona's LF-tag grants allow",
    }
    for group in res.feature_groups:
        if group.config.offline_store:
            analysis[f"Resource::{group.bucket.bucket_arn}/{group.offline_prefix}*"] = (
                "Feature Store names the offline store's Iceberg data and metadata objects itself, under this "
                "group's prefix only (read-only)")
    for persona in (Persona.DATA_SCIENTIST, Persona.ML_ENGINEER):
        acknowledge_grants(personas.roles[persona], actions=S3_READ_WRITE + KMS, resources={**studio, **analysis})
    acknowledge_grants(personas.roles[Persona.LABELING_ADMIN], actions=S3_READ_WRITE + KMS, resources={
        **studio,
        object_arns(res.raw_bucket, LABELING_PREFIX): "labeling manifests and outputs live under the raw zone's "
                                                      "labeling/ prefix only",
        f"Resource::{base}:labeling-job/{naming.prefix}-*": "labeling jobs must carry the platform's name prefix"})
    auditor = personas.roles[Persona.AUDITOR]
    acknowledge_grants(auditor, resources={**studio, "Resource::*": "the auditor reads every SageMaker resource, "
                                           "metric, alarm, log and role of the account: read-only verbs only"})
    for verb in ("Describe*", "List*"):
        nag.acknowledge(auditor.grants_policy, nag.wildcard_finding(f"Action::sagemaker:{verb}"),
                        f"read-only SageMaker verbs ({verb}): the auditor's whole job is to read every resource")
