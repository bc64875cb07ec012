"""The SageMaker Studio domain: VPC-only in the isolated subnets, the platform's key on its storage.

Create-only properties: changing the auth mode, the name, the KMS key, the VPC or subnets, or the tags
of an `AWS::SageMaker::Domain` replaces it (a new, empty home file system; the old one is left behind).
`domain_lock` records them per environment and `workspaces.domain.version`; config validation refuses
a change to any of them under the same version (`ml_platform.config_sections.workspaces_lock`).

Teardown: CloudFormation cannot delete a user profile while it has apps or spaces, nor a domain while
it has user profiles; before removing a profile (or the domain), delete its apps and spaces (README,
"Workspaces"). Deleting a domain leaves its EFS home file system, which holds users' files: the domain
is retained by default and its file system must be deleted by hand once its data is no longer needed.
"""
from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from ml_platform import nag
from ml_platform.config_sections.workspaces import UserProfileConfig, WorkspacesConfig

SHARING_PREFIX = "studio-sharing/"
# Between the domain's apps: NFS to the home file system, and the app ports Studio uses between the
# JupyterServer/JupyterLab app and kernel gateways (SageMaker Developer Guide, "Connect Studio in a
# VPC to external resources").
NFS_PORT = 2049
APP_PORTS = ec2.Port.tcp_range(8192, 65535)


class StudioDomain(Construct):
    """`AWS::SageMaker::Domain` (IAM auth, `VpcOnly`) with its security group, the Studio and notebook
    interface endpoints, and one user profile per configured person.

    Behaviour: apps run only in `subnets` with `self.security_group` (NFS and app ports within the
    group; HTTPS to the VPC's endpoints); the home file system and the apps' volumes are encrypted with
    `key`; shared notebook output goes to `sharing_bucket` under `studio-sharing/`, encrypted with
    `key`; idle JupyterLab and Code Editor apps stop after `idle_shutdown_minutes`; each profile runs as
    its persona's role (`execution_roles`); the domain and profiles are retained on stack deletion.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, config: WorkspacesConfig, vpc: ec2.IVpc,
                 subnets: Sequence[ec2.ISubnet], endpoint_security_group: ec2.ISecurityGroup, key: kms.IKey, sharing_bucket: s3.IBucket,
                 default_role: iam.IRole, execution_roles: dict[str, iam.IRole]) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                                                description="Studio apps: NFS and app ports within the domain")
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.tcp(NFS_PORT), "home file system (NFS)")
        self.security_group.add_ingress_rule(self.security_group, APP_PORTS, "between the domain's apps")
        self.security_group.add_egress_rule(self.security_group, ec2.Port.tcp(NFS_PORT), "home file system (NFS)")
        self.security_group.add_egress_rule(self.security_group, APP_PORTS, "between the domain's apps")
        self.security_group.add_egress_rule(endpoint_security_group, ec2.Port.tcp(443),
                                            "AWS APIs through the VPC's interface endpoints")
        selection = ec2.SubnetSelection(subnets=list(subnets))
        # Studio's own endpoints (the API, runtime, STS, logs and ECR ones are the network's).
        for endpoint_id, service in (("StudioEndpoint", ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_STUDIO),
                                     ("NotebookEndpoint", ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_NOTEBOOK)):
            ec2.InterfaceVpcEndpoint(self, endpoint_id, vpc=vpc, service=service, subnets=selection, private_dns_enabled=True,
                                     security_groups=[endpoint_security_group], open=False)
        idle = sagemaker.CfnDomain.AppLifecycleManagementProperty(
            idle_settings=sagemaker.CfnDomain.IdleSettingsProperty(
                lifecycle_management="ENABLED", idle_timeout_in_minutes=config.domain.idle_shutdown_minutes,
                min_idle_timeout_in_minutes=60, max_idle_timeout_in_minutes=config.domain.idle_shutdown_minutes))
        self.domain = sagemaker.CfnDomain(
            self, "Domain", domain_name=name, auth_mode="IAM", app_network_access_type="VpcOnly",
            vpc_id=vpc.vpc_id, subnet_ids=[s.subnet_id for s in subnets], kms_key_id=key.key_arn,
            default_user_settings=sagemaker.CfnDomain.UserSettingsProperty(
                execution_role=default_role.role_arn, security_groups=[self.security_group.security_group_id],
                sharing_settings=sagemaker.CfnDomain.SharingSettingsProperty(
                    notebook_output_option="Allowed", s3_kms_key_id=key.key_arn,
                    s3_output_path=f"s3://{sharing_bucket.bucket_name}/{SHARING_PREFIX}"),
                jupyter_lab_app_settings=sagemaker.CfnDomain.JupyterLabAppSettingsProperty(app_lifecycle_management=idle),
                code_editor_app_settings=sagemaker.CfnDomain.CodeEditorAppSettingsProperty(
                    app_lifecycle_management=idle)),
            domain_settings=sagemaker.CfnDomain.DomainSettingsProperty(
                security_group_ids=[self.security_group.security_group_id]))
        self.domain.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.domain_id = self.domain.attr_domain_id
        stack = cdk.Stack.of(self)
        self.domain_arn = f"arn:aws:sagemaker:{stack.region}:{stack.account}:domain/{self.domain_id}"
        self.profiles = {p.name: self._profile(p, execution_roles[p.persona.value]) for p in config.user_profiles}

    def _profile(self, profile: UserProfileConfig, role: iam.IRole) -> sagemaker.CfnUserProfile:
        resource = sagemaker.CfnUserProfile(
            self, f"Profile{profile.name.replace('-', '').capitalize()}", domain_id=self.domain_id,
            user_profile_name=profile.name,
            user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
                execution_role=role.role_arn, security_groups=[self.security_group.security_group_id]))
        resource.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return resource

    def attach_app_permissions(self, roles: Sequence[iam.IRole]) -> iam.ManagedPolicy:
        """What a Studio execution role needs to run its own apps and spaces in this domain, as one
        policy attached to `roles` (a policy of its own: the domain names the default role, so the
        roles' own policies cannot name the domain without a dependency cycle)."""
        stack = cdk.Stack.of(self)
        base = f"arn:aws:sagemaker:{stack.region}:{stack.account}"
        policy = iam.ManagedPolicy(self, "AppPermissions", roles=list(roles), statements=[iam.PolicyStatement(
            actions=["sagemaker:DescribeDomain", "sagemaker:DescribeUserProfile", "sagemaker:ListApps",
                     "sagemaker:DescribeApp", "sagemaker:CreateApp", "sagemaker:DeleteApp", "sagemaker:ListSpaces",
                     "sagemaker:DescribeSpace", "sagemaker:CreateSpace", "sagemaker:UpdateSpace",
                     "sagemaker:DeleteSpace", "sagemaker:AddTags", "sagemaker:ListTags"],
            resources=[self.domain_arn, f"{base}:user-profile/{self.domain_id}/*",
                       f"{base}:app/{self.domain_id}/*", f"{base}:space/{self.domain_id}/*"])],
            description="Studio execution roles: their own apps and spaces in the platform's domain")
        domain_id = f"<{stack.get_logical_id(self.domain)}.DomainId>"
        for kind in ("app", "space", "user-profile"):
            nag.acknowledge(policy, nag.wildcard_finding(f"Resource::{base}:{kind}/{domain_id}/*"),
                            f"Studio {kind}s are named by their users inside this domain only; the roles may manage "
                            "them in this domain, nowhere else")
        return policy
