"""A VPC that needs no internet: isolated subnets, VPC endpoints, encrypted flow logs."""
from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ml_platform.constructs.foundation.roles import PlatformRole

# Interface endpoints that SageMaker, Glue, Kinesis, Firehose and Lambda need to run without a NAT.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "SageMakerFeatureStoreRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_FEATURESTORE_RUNTIME,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "CloudWatchLogs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "CloudWatchMonitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "KinesisStreams": ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS,
    "KinesisFirehose": ec2.InterfaceVpcEndpointAwsService.KINESIS_FIREHOSE,
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "Events": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
    "Lambda": ec2.InterfaceVpcEndpointAwsService.LAMBDA_,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "StepFunctions": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    # The endpoint deployer registers autoscaling for endpoints it creates.
    "ApplicationAutoScaling": ec2.InterfaceVpcEndpointAwsService.APPLICATION_AUTOSCALING,
    # Lambdas trace with X-Ray (nag requires tracing); without this their traces cannot leave the VPC.
    "XRay": ec2.InterfaceVpcEndpointAwsService.XRAY,
}


class SecureVpc(Construct):
    """The platform's network.

    Behaviour: private isolated subnets in the configured AZs (no internet route; a NAT only when
    `nat_gateways` > 0 asks for public and egress subnets); S3 and DynamoDB gateway endpoints; the
    interface endpoints above with private DNS, reachable on 443 from inside the VPC only; the
    default security group stripped of all rules; flow logs of all traffic to a KMS-encrypted log
    group. Workloads attach `self.workload_security_group` or their own group.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cidr: str,
                 availability_zones: Sequence[str], nat_gateways: int, logs_key: kms.IKey,
                 flow_log_retention: logs.RetentionDays, flow_logs_role_name: str,
                 removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.vpc = self._vpc(cidr, availability_zones, nat_gateways, logs_key, flow_log_retention,
                             flow_logs_role_name, removal_policy)
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.endpoint_security_group, self.interface_endpoints = self._interface_endpoints(cidr)
        self.workload_security_group = self._workload_security_group()

    def _vpc(self, cidr: str, availability_zones: Sequence[str], nat_gateways: int, logs_key: kms.IKey,
             flow_log_retention: logs.RetentionDays, flow_logs_role_name: str,
             removal_policy: cdk.RemovalPolicy) -> ec2.Vpc:
        subnets = [ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                                           cidr_mask=20)]
        if nat_gateways:
            subnets += [
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="Egress", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=20),
            ]
        flow_log_group = logs.LogGroup(self, "FlowLogs", encryption_key=logs_key,
                                       retention=flow_log_retention, removal_policy=removal_policy)
        flow_logs_role = PlatformRole(self, "FlowLogsRole", role_name=flow_logs_role_name,
                                      assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
                                      description="Delivers VPC flow logs to their log group")
        return ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=list(availability_zones),
            nat_gateways=nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
            flow_logs={"All": ec2.FlowLogOptions(
                destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, flow_logs_role),
                traffic_type=ec2.FlowLogTrafficType.ALL)},
        )

    def _interface_endpoints(self, cidr: str) -> tuple[ec2.SecurityGroup, dict[str, ec2.InterfaceVpcEndpoint]]:
        security_group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="VPC interface endpoints: HTTPS from inside the VPC only")
        security_group.add_ingress_rule(
            # The literal CIDR (not the VPC's CidrBlock token) lets the security rules evaluate it.
            ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
        endpoints = {
            name: self.vpc.add_interface_endpoint(
                name, service=service, private_dns_enabled=True, subnets=self.private_subnets, open=False,
                security_groups=[security_group])
            for name, service in INTERFACE_ENDPOINTS.items()
        }
        return security_group, endpoints

    def _workload_security_group(self) -> ec2.SecurityGroup:
        """Workloads (training, processing, Glue, Lambda) talk to endpoints and to each other only."""
        sg = ec2.SecurityGroup(
            self, "WorkloadSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="ML workloads: HTTPS to VPC endpoints, and traffic between workload members")
        # S3 and DynamoDB gateway endpoints are reached through AWS prefix lists whose ids differ per
        # region; isolated subnets have no internet route, so HTTPS to any address can only reach
        # the VPC's endpoints and gateways.
        sg.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to interface and gateway endpoints (no internet route)")
        # Multi-instance training (XGBoost collective, Spark) needs members to reach each other.
        sg.add_ingress_rule(sg, ec2.Port.all_tcp(), "Between members of distributed jobs")
        sg.add_egress_rule(sg, ec2.Port.all_tcp(), "Between members of distributed jobs")
        # Inter-container traffic encryption (on for every training and processing job) runs over
        # IPsec: IKE on UDP 500 and ESP (IP protocol 50) between the members; without them a
        # multi-instance job cannot start its collective.
        sg.add_ingress_rule(sg, ec2.Port.udp(500), "IPsec IKE between job members (inter-container encryption)")
        sg.add_egress_rule(sg, ec2.Port.udp(500), "IPsec IKE between job members (inter-container encryption)")
        # ESP has no ports; the EC2 API takes it as protocol number 50.
        ec2.CfnSecurityGroupIngress(self, "WorkloadIpsecEspIn", group_id=sg.security_group_id, ip_protocol="50",
                                    source_security_group_id=sg.security_group_id,
                                    description="IPsec ESP between job members (inter-container encryption)")
        ec2.CfnSecurityGroupEgress(self, "WorkloadIpsecEspOut", group_id=sg.security_group_id, ip_protocol="50",
                                   destination_security_group_id=sg.security_group_id,
                                   description="IPsec ESP between job members (inter-container encryption)")
        return sg
