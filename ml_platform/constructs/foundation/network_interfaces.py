"""The network-interface permissions a service needs to place work in the VPC, in one place.

Lambda, SageMaker and Glue create the network interfaces of a function, job or model with the
execution role's permissions (Lambda Developer Guide "Giving Lambda functions access to a VPC",
SageMaker Developer Guide "Give SageMaker Access to Resources in your Amazon VPC", Glue Developer
Guide "Setting up IAM permissions for AWS Glue"). What the Service Authorization Reference (Amazon
EC2) allows us to scope, and how:

- `ec2:CreateNetworkInterface` authorizes the new interface (`network-interface`), the `subnet`
  it is created in and each `security-group` it attaches: the statement names the placement's
  subnets and security groups, so a job or function placed anywhere else is refused;
- `ec2:DeleteNetworkInterface`, `ec2:CreateNetworkInterfacePermission`,
  `ec2:AssignPrivateIpAddresses` / `ec2:UnassignPrivateIpAddresses`, `ec2:CreateTags` /
  `ec2:DeleteTags` authorize an existing `network-interface`: its id is chosen by EC2 when the
  service creates it, so `network-interface/*` of this account and region is the narrowest ARN;
- the `ec2:Describe*` reads and `ec2:DeleteNetworkInterfacePermission` list no resource type:
  `"*"` is the only resource IAM accepts for them (acknowledged below, beside the grant).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from ml_platform.constructs.foundation.roles import PlatformRole


@dataclass(frozen=True)
class EniPlacement:
    """Where a service may create network interfaces for the role: these subnets, these groups."""

    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]

    @classmethod
    def of(cls, vpc: ec2.IVpc, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup) -> EniPlacement:
        """The subnets `subnets` selects in `vpc`, and `security_group`."""
        selected = vpc.select_subnets(subnet_type=subnets.subnet_type, subnets=subnets.subnets,
                                      subnet_group_name=subnets.subnet_group_name)
        return cls(subnet_ids=tuple(selected.subnet_ids), security_group_ids=(security_group.security_group_id,))


@dataclass(frozen=True)
class _Needs:
    on_own_interfaces: tuple[str, ...]
    unscoped: tuple[str, ...]


class EniService(Enum):
    """The services that create interfaces with a role of the platform, and what each calls."""

    # AWSLambdaVPCAccessExecutionRole's actions.
    LAMBDA = _Needs(on_own_interfaces=("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                                       "ec2:UnassignPrivateIpAddresses"),
                    unscoped=("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"))
    # The SageMaker Developer Guide's VPC policy for jobs and models.
    SAGEMAKER = _Needs(on_own_interfaces=("ec2:DeleteNetworkInterface", "ec2:CreateNetworkInterfacePermission"),
                       unscoped=("ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces",
                                 "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                                 "ec2:DescribeSecurityGroups"))
    # Glue jobs with a NETWORK connection (AWSGlueServiceRole's EC2 statements).
    GLUE = _Needs(on_own_interfaces=("ec2:DeleteNetworkInterface",),
                  unscoped=("ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
                            "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables",
                            "ec2:DescribeVpcAttribute"))


GLUE_TAG_KEY = "aws-glue-service-resource"


def grant_network_interfaces(role: PlatformRole, *, service: EniService, placement: EniPlacement) -> None:
    """What `service` needs, with `role`, to create, use and delete network interfaces in `placement`;
    acknowledges the two IAM5 findings this grant produces on `role`."""
    stack = cdk.Stack.of(role)
    ec2_arn = f"arn:aws:ec2:{stack.region}:{stack.account}"  # the platform runs in the aws partition
    interfaces = f"{ec2_arn}:network-interface/*"
    name = service.name.capitalize()
    role.add_to_principal_policy(iam.PolicyStatement(
        sid=f"{name}NetworkInterfacesInPlacement", actions=["ec2:CreateNetworkInterface"],
        resources=[interfaces, *(f"{ec2_arn}:subnet/{s}" for s in placement.subnet_ids),
                   *(f"{ec2_arn}:security-group/{g}" for g in placement.security_group_ids)]))
    role.add_to_principal_policy(iam.PolicyStatement(
        sid=f"{name}OwnNetworkInterfaces", actions=list(service.value.on_own_interfaces), resources=[interfaces]))
    if service is EniService.GLUE:
        # Glue tags the interfaces it creates with its own key (and only that key).
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="GlueNetworkInterfaceTags", actions=["ec2:CreateTags", "ec2:DeleteTags"], resources=[interfaces],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [GLUE_TAG_KEY]}}))
    # No resource type in the Service Authorization Reference: "*" is the only resource IAM accepts.
    role.add_to_principal_policy(iam.PolicyStatement(
        sid=f"{name}NetworkReads", actions=list(service.value.unscoped), resources=["*"]))
    role.acknowledge_wildcard(f"Resource::{interfaces}",
                              f"{name} names each network interface it creates for the role (eni-<id> chosen by "
                              "EC2); creating one is also limited to the placement's subnets and security groups")
    role.acknowledge_wildcard("Resource::*",
                              f"The EC2 Describe* reads {name} makes to place work in the VPC (and "
                              "DeleteNetworkInterfacePermission) have no resource-level permissions")
