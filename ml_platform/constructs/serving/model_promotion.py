"""What the delivery pipeline may do in an environment after promoting it: deploy and smoke-test a model."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ml_platform.cfn_child import cfn_child
from ml_platform.constructs.foundation.roles import PlatformRole


class ModelPromotionAccess(Construct):
    """A role the delivery pipeline's post-Prod step assumes, and the outputs that step reads.

    Behaviour: assumable only by `promoter_arn` (the pipeline's promote CodeBuild role in the tooling
    account: account principal plus an `aws:PrincipalArn` condition, so the trust does not depend on
    that role existing first); may invoke the endpoint deployer and describe and invoke this one
    endpoint, nothing else. CloudFormation outputs `PromotionRoleArn`, `DeployerFunctionName` and
    `EndpointName` are read by CDK Pipelines (`env_from_cfn_outputs`) into the step's environment.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str, promoter_arn: str,
                 deployer: lambda_.IFunction, endpoint_name: str) -> None:
        super().__init__(scope, construct_id)
        promoter_account = promoter_arn.split(":")[4]
        self.role = PlatformRole(
            self, "Role", role_name=role_name,
            assumed_by=iam.AccountPrincipal(promoter_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": promoter_arn}}),
            description="Delivery pipeline: deploys the approved model package and smoke-tests the endpoint")
        deployer.grant_invoke(self.role)
        function_id = cdk.Stack.of(self).get_logical_id(cfn_child(deployer, cdk.CfnElement))
        self.role.acknowledge_wildcard(f"Resource::<{function_id}.Arn>:*",
                                       "CDK grant_invoke includes the deployer's versions and aliases; the role "
                                       "invokes this one function only")
        endpoint_arn = cdk.Stack.of(self).format_arn(service="sagemaker", resource="endpoint",
                                                     resource_name=endpoint_name)
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="WatchAndSmokeTestThisEndpoint", actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
            resources=[endpoint_arn]))
        self.role_arn_output = cdk.CfnOutput(self, "PromotionRoleArn", value=self.role.role_arn)
        self.deployer_output = cdk.CfnOutput(self, "DeployerFunctionName", value=deployer.function_name)
        self.endpoint_output = cdk.CfnOutput(self, "EndpointName", value=endpoint_name)
