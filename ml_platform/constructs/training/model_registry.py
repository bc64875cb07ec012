"""The model package group a use case registers its model versions in."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from ml_platform.constructs.foundation.roles import PlatformRole


class ModelRegistry(Construct):
    """One `CfnModelPackageGroup` (name stable: endpoints and approval rules refer to it by name).

    `grant_register` lets a role (the pipeline's) create versions in this group only;
    `grant_read` lets a deployer describe and list them.
    """

    def __init__(self, scope: Construct, construct_id: str, *, group_name: str, description: str) -> None:
        super().__init__(scope, construct_id)
        self.group = sagemaker.CfnModelPackageGroup(
            self, "Group", model_package_group_name=group_name,
            model_package_group_description=description)
        self.group_name = group_name
        stack = cdk.Stack.of(self)
        self.group_arn = f"arn:aws:sagemaker:{stack.region}:{stack.account}:model-package-group/{group_name}"
        # Versions are `model-package/<group>/<n>`: the wildcard is the version number only.
        self.versions_arn = f"arn:aws:sagemaker:{stack.region}:{stack.account}:model-package/{group_name}/*"

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        self._acknowledge_versions(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee, resource_arns=[self.group_arn, self.versions_arn],
            actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                     "sagemaker:DescribeModelPackageGroup", "sagemaker:AddTags"])

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        self._acknowledge_versions(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee, resource_arns=[self.group_arn, self.versions_arn],
            actions=["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup"])

    def _acknowledge_versions(self, grantee: iam.IGrantable) -> None:
        if isinstance(grantee, PlatformRole):
            grantee.acknowledge_wildcard(f"Resource::{self.versions_arn}",
                                         "Model versions of this use case's group only: the wildcard is the version number")
