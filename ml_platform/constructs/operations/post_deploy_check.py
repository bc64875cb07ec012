"""What the delivery pipeline's post-deploy step may read and call in an environment it just deployed."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from ml_platform.constructs.foundation.roles import PlatformRole

API_PATH = "/invocations"


class PostDeployCheckAccess(Construct):
    """A role the pipeline's post-deploy check assumes (scripts/post_deploy_check.py), and its outputs.

    Behaviour: assumable only by `checker_arn` (the pipeline's check CodeBuild role in the tooling
    account: account principal plus an `aws:PrincipalArn` condition, so the trust does not depend on
    that role existing first). It may describe the training pipeline; list alarms of this account and
    region (read-only; the script keeps those notifying the alert topic); where there is an endpoint,
    describe it and invoke it the way clients do: `execute-api:Invoke` on the API front's
    `POST /invocations` when `api` is given, else `sagemaker:InvokeEndpoint` on the endpoint. Nothing
    else. Outputs `CheckRoleArn` and (with an API) `ApiUrl` are read by CDK Pipelines into the step.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str, checker_arn: str,
                 pipeline_name: str, endpoint_name: str | None = None, api: apigw.RestApi | None = None,
                 api_stage: str = "") -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = PlatformRole(
            self, "Role", role_name=role_name,
            assumed_by=iam.AccountPrincipal(checker_arn.split(":")[4]).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": checker_arn}}),
            description="Delivery pipeline: checks the deployed environment (pipeline, endpoint answer, alarms)")
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="TrainingPipelineExists", actions=["sagemaker:DescribePipeline"],
            resources=[stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)]))
        alarms = stack.format_arn(service="cloudwatch", resource="alarm", resource_name="*",
                                  arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadAlarmStates", actions=["cloudwatch:DescribeAlarms"], resources=[alarms]))
        self.role.acknowledge_wildcard(
            f"Resource::arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:*",
            "DescribeAlarms of this account and region, read-only: the check lists alarms in ALARM and keeps "
            "those whose actions notify the platform's alert topic (platform alarms have no common name)")
        self.api_url_output: cdk.CfnOutput | None = None
        if endpoint_name:
            self._endpoint_access(stack, endpoint_name, api, api_stage)
        self.role_arn_output = cdk.CfnOutput(self, "CheckRoleArn", value=self.role.role_arn)

    def _endpoint_access(self, stack: cdk.Stack, endpoint_name: str, api: apigw.RestApi | None,
                         api_stage: str) -> None:
        endpoint = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name)
        # DescribeEndpoint tells an endpoint not deployed yet (empty registry) from a failed one.
        actions = ["sagemaker:DescribeEndpoint"] if api else ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="DescribeAndInvokeThisEndpoint" if not api else "DescribeThisEndpoint",
            actions=actions, resources=[endpoint]))
        if api is None:
            return
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeThroughTheApiFront", actions=["execute-api:Invoke"],
            resources=[api.arn_for_execute_api("POST", API_PATH, api_stage)]))
        self.api_url_output = cdk.CfnOutput(self, "ApiUrl", value=api.url_for_path(API_PATH))
