"""An optional HTTPS front for the endpoint: API Gateway (REST, IAM auth) -> thin Lambda -> InvokeEndpoint."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ml_platform import nag
from ml_platform.cfn_child import cfn_child
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.vpc_function import FunctionPlacement, VpcFunction
from ml_platform.constructs.serving.web_acl import RegionalWebAcl
from ml_platform.paths import LAMBDA_ROOT

ASSET = LAMBDA_ROOT / "endpoint_proxy"
STAGE_NAME = "v1"
# TLS 1.2 minimum (TLS 1.3 preferred) on the execute-api endpoint itself; STRICT rejects requests
# whose Host/SNI do not name this API.
SECURITY_POLICY = "SecurityPolicy_TLS13_1_2_2021_06"


class EndpointApi(Construct):
    """`POST /invocations` on a regional REST API that forwards to the SageMaker endpoint.

    Behaviour: every method requires SigV4 (IAM) authorization: callers need `execute-api:Invoke`;
    requests are validated (Content-Type header required, JSON bodies must be a JSON document);
    the stage throttles at `throttle_rate`/`throttle_burst`, writes JSON access logs to a
    KMS-encrypted log group, execution logs at INFO without request/response data, X-Ray traces;
    the API's own security policy enforces TLS 1.2+. With `waf_rate_limit` a WAFv2 web ACL
    (AWS managed common, known-bad-inputs and IP-reputation rule groups, plus a per-IP rate rule)
    guards the stage. The proxy function (`lambda/endpoint_proxy`) runs in the isolated subnets
    (the VPC's SageMaker runtime endpoint) with a role that may invoke this endpoint only.
    """

    def __init__(self, scope: Construct, construct_id: str, *, endpoint_name: str, proxy_role_name: str,
                 cloudwatch_role_name: str, vpc: ec2.IVpc, vpc_subnets: ec2.SubnetSelection,
                 security_group: ec2.ISecurityGroup, dead_letter_key: kms.IKey, logs_key: kms.IKey,
                 log_retention: logs.RetentionDays, reserved_concurrency: int | None, throttle_rate: float,
                 throttle_burst: int, waf_rate_limit: int | None, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=endpoint_name)
        self.proxy_role = PlatformRole(self, "ProxyRole", role_name=proxy_role_name,
                                       assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                                       description="Forwards API requests to the SageMaker endpoint")
        self.proxy_role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeThisEndpointOnly", actions=["sagemaker:InvokeEndpoint"], resources=[self.endpoint_arn]))
        self.proxy_role.acknowledge_wildcard("Resource::*",
                                             "X-Ray trace upload and Lambda's VPC network interface actions have no "
                                             "resource-level permissions; the endpoint itself is granted by its ARN")
        # API Gateway invokes it synchronously: the caller receives each error, so no DLQ (issue 9 defect 7).
        self.proxy_function = VpcFunction(
            self, "Proxy", asset=ASSET, role=self.proxy_role, description="Forwards API requests to the SageMaker endpoint",
            environment={"ENDPOINT_NAME": endpoint_name},
            placement=FunctionPlacement(vpc=vpc, subnets=vpc_subnets, security_group=security_group),
            environment_key=dead_letter_key, logs_key=logs_key, log_retention=log_retention,
            reserved_concurrency=reserved_concurrency, async_failures=None,
            removal_policy=removal_policy, timeout=cdk.Duration.seconds(30), memory_size=512)
        self.proxy = self.proxy_function.function
        self.access_logs = logs.LogGroup(self, "AccessLogs", encryption_key=logs_key, retention=log_retention,
                                         removal_policy=removal_policy)
        account = self._account_logging_role(cloudwatch_role_name)
        self.api = self._rest_api(throttle_rate, throttle_burst)
        self.api.deployment_stage.node.add_dependency(account)
        self._invocations()
        self.web_acl = None
        if waf_rate_limit is not None:
            self.web_acl = RegionalWebAcl(self, "WebAcl", name=f"{endpoint_name}-api", rate_limit=waf_rate_limit,
                                          logs_key=logs_key, log_retention=log_retention,
                                          removal_policy=removal_policy, large_body_paths=["/invocations"])
            self.web_acl.associate("Stage", self.api.deployment_stage.stage_arn)
        else:
            nag.acknowledge_all(self.api.deployment_stage, ["AwsSolutions-APIG3", "NIST.800.53.R5-APIGWAssociatedWithWAF",
                                                            "PCI.DSS.321-APIGWAssociatedWithWAF"],
                                "This environment has no WAF (endpoint.api_waf off in its config): every method "
                                "requires IAM-signed requests and the stage is throttled; prod turns the WAF on")

    def _account_logging_role(self, role_name: str) -> apigw.CfnAccount:
        """API Gateway writes execution and access logs with the account's CloudWatch role.

        Ours instead of `cloud_watch_role=True`, whose role carries the AWS managed policy
        AmazonAPIGatewayPushToCloudWatchLogs (all log groups); this one names the API's groups.
        """
        stack = cdk.Stack.of(self)
        role = PlatformRole(self, "CloudWatchRole", role_name=role_name,
                            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                            description="API Gateway account setting: writes API execution and access logs")
        groups = [stack.format_arn(service="logs", resource="log-group", resource_name=n,
                                   arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
                  for n in ("API-Gateway-Execution-Logs_*", self.access_logs.log_group_name)]
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="WriteApiLogs", actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                         "logs:DescribeLogStreams"],
            resources=[*groups, *(f"{g}:log-stream:*" for g in groups)]))
        # DescribeLogGroups lists groups by name prefix and has no narrower resource form.
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="FindApiLogGroups", actions=["logs:DescribeLogGroups"], resources=["*"]))
        region, account = stack.region, stack.account
        execution = f"arn:aws:logs:{region}:{account}:log-group:API-Gateway-Execution-Logs_*"
        for detail, reason in {
            "Resource::*": "logs:DescribeLogGroups has no resource-level permission (it lists by name prefix)",
            f"Resource::{execution}": "API Gateway names execution log groups API-Gateway-Execution-Logs_<api id>/<stage>",
            f"Resource::{execution}:log-stream:*": "Streams of the API Gateway execution log groups only",
            f"Resource::arn:aws:logs:{region}:{account}:log-group:"
            f"<{stack.get_logical_id(cfn_child(self.access_logs, logs.CfnLogGroup))}>:log-stream:*":
                "Streams of this API's access log group only",
        }.items():
            role.acknowledge_wildcard(detail, reason)
        account_setting = apigw.CfnAccount(self, "AccountLogging", cloud_watch_role_arn=role.role_arn)
        account_setting.node.add_dependency(role.grants_policy)
        return account_setting

    def _rest_api(self, throttle_rate: float, throttle_burst: int) -> apigw.RestApi:
        api = apigw.RestApi(
            self, "Api", description="SageMaker endpoint invocations (IAM-signed requests only)",
            endpoint_types=[apigw.EndpointType.REGIONAL], cloud_watch_role=False,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME, throttling_rate_limit=throttle_rate, throttling_burst_limit=throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True),
                logging_level=apigw.MethodLoggingLevel.INFO, data_trace_enabled=False,  # never log payloads
                metrics_enabled=True, tracing_enabled=True))
        cfn = cfn_child(api, apigw.CfnRestApi)
        cfn.add_property_override("SecurityPolicy", SECURITY_POLICY)
        cfn.add_property_override("EndpointAccessMode", "STRICT")
        stage = api.deployment_stage
        nag.acknowledge_all(stage, ["HIPAA.Security-APIGWCacheEnabledAndEncrypted",
                                    "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
                                    "PCI.DSS.321-APIGWCacheEnabledAndEncrypted"],
                            "No cache: every POST is a distinct prediction request, so a cache would hold "
                            "payload-derived answers and serve nothing; nothing is cached, nothing to encrypt")
        nag.acknowledge_all(stage, ["HIPAA.Security-APIGWSSLEnabled", "NIST.800.53.R5-APIGWSSLEnabled",
                                    "PCI.DSS.321-APIGWSSLEnabled"],
                            "The backend is a Lambda proxy integration invoked by API Gateway over the AWS API, "
                            "not an HTTP backend, so a client certificate for backend authentication has no use")
        return api

    def _invocations(self) -> None:
        api = self.api
        validator = api.add_request_validator("Validator", validate_request_body=True,
                                              validate_request_parameters=True)
        # Any JSON document (object or array): the schema only makes API Gateway require a JSON body.
        document = api.add_model("JsonDocument", content_type="application/json", model_name="JsonDocument",
                                 schema=apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4,
                                                         title="JsonDocument"))
        method = api.root.add_resource("invocations").add_method(
            "POST", apigw.LambdaIntegration(self.proxy, proxy=True, timeout=cdk.Duration.seconds(29)),
            authorization_type=apigw.AuthorizationType.IAM, request_validator=validator,
            request_parameters={"method.request.header.Content-Type": True},
            request_models={"application/json": document})
        nag.acknowledge(method, "AwsSolutions-COG4",
                        "Callers are AWS principals (services, pipelines) that sign requests with SigV4; "
                        "IAM authorization replaces a Cognito user pool authorizer here")
        self.invocations = method

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """`execute-api:Invoke` on `POST /invocations` of this API's stage only."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=["execute-api:Invoke"],
                                          resource_arns=[self.api.arn_for_execute_api("POST", "/invocations",
                                                                                      STAGE_NAME)])
