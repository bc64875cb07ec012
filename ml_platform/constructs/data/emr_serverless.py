"""An optional EMR Serverless Spark application for the same ETL scripts (see docs/emr_serverless.md)."""
from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emrserverless as emrs
from constructs import Construct

# Spark 3.5, as in Glue 5.0: the scripts behave the same on both.
RELEASE_LABEL = "emr-7.5.0"


class SparkApplication(Construct):
    """A small EMR Serverless Spark application in the VPC.

    Behaviour: no pre-initialised capacity (nothing runs, nothing is billed between jobs);
    starts on job submission and stops after 15 idle minutes; capped at `max_vcpu` vCPUs;
    workers run in the isolated subnets with the workload security group.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup, max_vcpu: int = 16) -> None:
        super().__init__(scope, construct_id)
        self.application = emrs.CfnApplication(
            self, "Application", name=name, release_label=RELEASE_LABEL, type="Spark",
            architecture="ARM64",
            auto_start_configuration=emrs.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emrs.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=15),
            maximum_capacity=emrs.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=f"{max_vcpu} vCPU", memory=f"{max_vcpu * 4} GB", disk=f"{max_vcpu * 20} GB"),
            network_configuration=emrs.CfnApplication.NetworkConfigurationProperty(
                subnet_ids=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
                security_group_ids=[security_group.security_group_id]),
        )
        self.arn = self.application.attr_arn
