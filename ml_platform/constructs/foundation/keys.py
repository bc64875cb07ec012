"""Customer-managed KMS keys, one per data domain, whose key policies name the roles that use them."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Administration without use: the account can manage (and recover) the key but cannot encrypt or
# decrypt with it unless the principal is one of the key's declared users.
_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
]
_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


@dataclass(frozen=True)
class KeyUsers:
    """Who may use a key: platform role ARNs, and AWS services that encrypt on the account's behalf."""

    role_arns: Sequence[str] = ()
    # Service principals with the condition that scopes them (e.g. the CloudWatch Logs region service).
    service_statements: Sequence[iam.PolicyStatement] = field(default_factory=tuple)


class PlatformKey(Construct):
    """A symmetric KMS key with yearly rotation, an alias, and a key policy limited to its users.

    Behaviour: rotation on; deletion waits 30 days (7 when the environment destroys data); the key
    policy lets the account administer the key, lets only `users.role_arns` use it (so an
    over-broad IAM policy elsewhere in the account still cannot decrypt this domain's data), and
    lets AWS services create grants only for AWS resources.
    """

    def __init__(self, scope: Construct, construct_id: str, *, alias: str, description: str,
                 users: KeyUsers, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        root = iam.AccountRootPrincipal()
        statements = [
            iam.PolicyStatement(sid="KeyAdministration", principals=[root], actions=_ADMIN_ACTIONS,
                                resources=["*"]),
        ]
        if users.role_arns:
            statements += [
                iam.PolicyStatement(
                    sid="UseByDomainRoles", principals=[root], actions=_USE_ACTIONS, resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": list(users.role_arns)}}),
                # SageMaker, EBS and Glue attach the key to volumes through grants on the role's behalf.
                iam.PolicyStatement(
                    sid="GrantsForAwsResourcesByDomainRoles", principals=[root],
                    actions=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": list(users.role_arns)},
                                "Bool": {"kms:GrantIsForAWSResource": "true"}}),
            ]
        statements += list(users.service_statements)
        self.key = kms.Key(
            self, "Key",
            description=description,
            enable_key_rotation=True,
            alias=alias,
            policy=iam.PolicyDocument(statements=statements),
            pending_window=cdk.Duration.days(7 if removal_policy is cdk.RemovalPolicy.DESTROY else 30),
            removal_policy=removal_policy,
        )


@dataclass(frozen=True)
class DomainKeys:
    """The environment's customer-managed keys, one attribute per `KeyDomain`."""

    lake: kms.IKey
    models: kms.IKey
    logs: kms.IKey
    streaming: kms.IKey


def logs_service_statement(region: str, account: str) -> iam.PolicyStatement:
    """Let CloudWatch Logs in this region encrypt log groups of this account, and nothing else."""
    return iam.PolicyStatement(
        sid="CloudWatchLogsEncryption",
        principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                f"arn:aws:logs:{region}:{account}:log-group:*"}},
    )


def volume_key_grants_statement(key_arn: str, sid: str = "VolumeKeyGrants") -> iam.PolicyStatement:
    """kms:CreateGrant on `key_arn` for AWS resources: what a caller of CreateTrainingJob,
    CreateTransformJob, CreateProcessingJob or CreateLabelingJob with a volume key needs (SageMaker
    creates the grant for the job's volume in the caller's name)."""
    # Only for AWS resources (the job's volume): never a general way to delegate the key.
    return iam.PolicyStatement(sid=sid, actions=["kms:CreateGrant"], resources=[key_arn],
                               conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}})


def grant_volume_encryption(key: kms.IKey, grantee: iam.IGrantable) -> iam.Grant:
    """Let `grantee` attach `key` to the volumes of the jobs it creates or runs.

    SageMaker (and EBS under it) encrypts a job's ML storage volume by creating a KMS grant as the
    caller or the job's role; the grant must be for an AWS resource, so the condition keeps this
    from being a general way to delegate the key. The key policy's `GrantsForAwsResourcesByDomainRoles`
    statement is the other half (the same condition, for the domain's roles only).
    """
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=["kms:CreateGrant"], resource_arns=[key.key_arn],
        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}})
    # DescribeKey carries no grant context (the condition above would never match it).
    return grant.combine(iam.Grant.add_to_principal(grantee=grantee, actions=["kms:DescribeKey"],
                                                    resource_arns=[key.key_arn]))

