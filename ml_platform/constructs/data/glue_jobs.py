"""Glue ETL: the security configuration, the VPC connection, the jobs, the crawler, the workflow.

Job scripts come from `glue_jobs/` as S3 assets: the thin entry script per job, and one zip of
the pure `etl_*.py` modules passed as `--extra-py-files`. Job arguments are documented in
`glue_jobs/README.md`; the paths below are the lake's zone prefixes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from ml_platform.constructs.foundation.assets import grant_asset_read
from ml_platform.constructs.foundation.network_interfaces import EniPlacement, EniService, grant_network_interfaces
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.paths import GLUE_JOBS_ROOT


@dataclass(frozen=True)
class GlueJobSettings:
    """Capacity and runtime of every job (from `etl` in the environment's configuration)."""

    glue_version: str
    worker_type: str
    number_of_workers: int
    timeout_minutes: int


class GlueSecurity(Construct):
    """A Glue security configuration: S3 SSE-KMS, CloudWatch Logs SSE-KMS, bookmarks CSE-KMS.

    Every job and crawler of the platform names it. `grant_use` gives a role what Glue needs to
    honour it (the keys, and associating the logs key with Glue's log groups).
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, data_key: kms.IKey,
                 logs_key: kms.IKey, region: str, account: str) -> None:
        super().__init__(scope, construct_id)
        self._keys = (data_key, logs_key)
        self._log_groups = f"arn:aws:logs:{region}:{account}:log-group:/aws-glue/*"
        self.configuration = glue.CfnSecurityConfiguration(
            self, "Configuration", name=name,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[glue.CfnSecurityConfiguration.S3EncryptionProperty(
                    s3_encryption_mode="SSE-KMS", kms_key_arn=data_key.key_arn)],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=logs_key.key_arn),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=data_key.key_arn),
            ))
        self.name = self.configuration.ref

    def grant_use(self, grantee: iam.IGrantable) -> iam.Grant:
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
            # Glue names its log groups /aws-glue/<jobs|crawlers>/<security configuration>-role/...
            resource_arns=[self._log_groups, f"{self._log_groups}:*"])
        for key in self._keys:
            grant = grant.combine(key.grant_encrypt_decrypt(grantee))
        return grant


def grant_glue_runtime(role: PlatformRole, *, connection: GlueNetwork, region: str, account: str) -> iam.Grant:
    """What a Glue job in the VPC needs besides its data: its connection, ENIs and metrics."""
    grant = iam.Grant.add_to_principal(
        grantee=role, actions=["glue:GetConnection", "glue:GetConnections"],
        resource_arns=[f"arn:aws:glue:{region}:{account}:catalog", connection.arn])
    # Glue creates the job's network interfaces in the connection's subnet and security group.
    grant_network_interfaces(role, service=EniService.GLUE, placement=connection.placement)
    # PutMetricData has no resources; the condition keeps the role to Glue's namespace.
    return grant.combine(iam.Grant.add_to_principal(
        grantee=role, actions=["cloudwatch:PutMetricData"], resource_arns=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": "Glue"}}))


class GlueNetwork(Construct):
    """A NETWORK-type Glue connection: jobs that name it run in `subnet` with `security_group`."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, account: str, region: str,
                 subnet: ec2.ISubnet, security_group: ec2.ISecurityGroup) -> None:
        super().__init__(scope, construct_id)
        self.connection = glue.CfnConnection(
            self, "Connection", catalog_id=account,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=name, connection_type="NETWORK",
                description="Runs Glue jobs in the platform VPC's isolated subnet",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    availability_zone=subnet.availability_zone, subnet_id=subnet.subnet_id,
                    security_group_id_list=[security_group.security_group_id])))
        self.name = name
        self.arn = f"arn:aws:glue:{region}:{account}:connection/{name}"
        self.placement = EniPlacement(subnet_ids=(subnet.subnet_id,),
                                      security_group_ids=(security_group.security_group_id,))


class EtlModules(Construct):
    """The `etl_*.py` modules as one zip asset (for `--extra-py-files`) and the event schema file."""

    def __init__(self, scope: Construct, construct_id: str, *, schema_path: Path) -> None:
        super().__init__(scope, construct_id)
        self.modules = s3_assets.Asset(self, "Modules", path=str(GLUE_JOBS_ROOT),
                                       exclude=["*", "!etl_*.py"])
        self.schema = s3_assets.Asset(self, "EventSchema", path=str(schema_path))

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read both objects in the bootstrap assets bucket."""
        return grant_asset_read(self.modules, grantee).combine(grant_asset_read(self.schema, grantee))


@dataclass(frozen=True)
class GlueJobRuntime:
    """What every job of the ETL shares: its role, capacity, security configuration, VPC connection,
    the ETL modules and the temporary directory."""

    role: iam.IRole
    settings: GlueJobSettings
    security: GlueSecurity
    connection: GlueNetwork
    modules: EtlModules
    temp_dir: str


class GlueSparkJob(Construct):
    """One PySpark job from `glue_jobs/<script>`.

    Behaviour: the job runs in the VPC through `connection`, under `security`, with job
    bookmarks enabled (each run processes only new input) unless `bookmarks=False` (a job that
    must read its whole input every run), one concurrent run (bookmarks require it), no automatic retry (a failed run is investigated, the workflow stops),
    continuous CloudWatch logs and job metrics.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, script: str, runtime: GlueJobRuntime,
                 arguments: Mapping[str, str], description: str, bookmarks: bool = True) -> None:
        super().__init__(scope, construct_id)
        role, settings, security, connection = runtime.role, runtime.settings, runtime.security, runtime.connection
        modules, temp_dir = runtime.modules, runtime.temp_dir
        self.script = s3_assets.Asset(self, "Script", path=str(GLUE_JOBS_ROOT / script))
        grant_asset_read(self.script, role)
        self.job = glue.CfnJob(
            self, "Job", name=name, description=description, role=role.role_arn,
            command=glue.CfnJob.JobCommandProperty(name="glueetl", python_version="3",
                                                   script_location=self.script.s3_object_url),
            glue_version=settings.glue_version,
            worker_type=settings.worker_type,
            number_of_workers=settings.number_of_workers,
            timeout=settings.timeout_minutes,
            max_retries=0,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=security.name,
            connections=glue.CfnJob.ConnectionsListProperty(connections=[connection.name]),
            default_arguments={
                "--job-language": "python",
                "--job-bookmark-option": "job-bookmark-enable" if bookmarks else "job-bookmark-disable",
                "--enable-metrics": "true",
                "--enable-observability-metrics": "true",
                "--enable-continuous-cloudwatch-log": "true",
                "--TempDir": temp_dir,
                "--extra-py-files": modules.modules.s3_object_url,
                **{f"--{k}": v for k, v in arguments.items()},
            },
        )
        self.job.add_resource_dependency(connection.connection)
        self.name = self.job.ref
        self.job_name = name  # the literal name, for other stacks (a trigger, a rule) without an export
