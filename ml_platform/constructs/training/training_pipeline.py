"""The SageMaker training pipeline as a CloudFormation resource, with the rights its steps need."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.training.training_pipeline_definition import build_training_pipeline_definition
from ml_platform.constructs.training.training_pipeline_spec import Placement, TrainingPipelineSpec

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def substitute(body: str, values: Mapping[str, str]) -> str:
    """`Fn::Sub` of `body`; every `${Name}` in it must be one of `values` (no stray references)."""
    used = set(_PLACEHOLDER.findall(body))
    if used != set(values):
        raise ValueError(f"placeholders {sorted(used)} do not match the values {sorted(values)}")
    return cdk.Fn.sub(body, dict(values))


def deploy_time_values(*, subnet_ids: Sequence[str], security_group_id: str, models_key_arn: str,
                       artifacts_bucket: str, features_bucket: str) -> tuple[Placement, dict[str, str]]:
    """The jobs' placement as `${Name}` placeholders, and the values `Fn::Sub` puts in their place
    at deploy time (subnets, security group, key and buckets are tokens while the definition is built)."""
    values = {f"Subnet{i}": subnet for i, subnet in enumerate(subnet_ids)}
    values.update(WorkloadSg=security_group_id, ModelsKey=models_key_arn, Artifacts=artifacts_bucket,
                  Features=features_bucket)
    placement = Placement(subnet_ids=tuple(f"${{Subnet{i}}}" for i in range(len(subnet_ids))),
                          security_group_id="${WorkloadSg}", kms_key_arn="${ModelsKey}")
    return placement, values


class TrainingPipeline(Construct):
    """A `CfnPipeline` whose definition comes from `build_training_pipeline_definition(spec)`.

    `spec` holds `${Name}` placeholders for deploy-time values; `values` maps each name to its
    token (subnet ids, security group, key ARN, bucket names). The definition is embedded as
    `PipelineDefinitionBody` (`Fn::Sub`), so `cdk synth` shows the whole pipeline and nothing is
    uploaded. Steps run as the processing and training roles, which `role` may pass to SageMaker.
    """

    def __init__(self, scope: Construct, construct_id: str, *, spec: TrainingPipelineSpec,
                 values: Mapping[str, str], role: PlatformRole, job_roles: list[iam.IRole]) -> None:
        super().__init__(scope, construct_id)
        self.definition = build_training_pipeline_definition(spec)
        body = json.dumps(self.definition, separators=(",", ":"), sort_keys=True)
        self.pipeline = sagemaker.CfnPipeline(
            self, "Pipeline", pipeline_name=spec.name, role_arn=role.role_arn,
            pipeline_description=f"{spec.name}: preprocess, tune, evaluate, register",
            pipeline_definition={"PipelineDefinitionBody": substitute(body, values)})
        stack = cdk.Stack.of(self)
        self.pipeline_name = spec.name
        self.pipeline_arn = f"arn:aws:sagemaker:{stack.region}:{stack.account}:pipeline/{spec.name}"
        self._grant_run_steps(role, job_roles)

    def _grant_run_steps(self, role: PlatformRole, job_roles: list[iam.IRole]) -> None:
        """What SageMaker Pipelines does as `role`: start, watch and stop the steps' jobs."""
        stack = cdk.Stack.of(self)
        arn = f"arn:aws:sagemaker:{stack.region}:{stack.account}"
        # Pipelines name the processing, model and transform jobs it starts `pipelines-<execution id>-...`.
        jobs = {
            "processing-job": ["CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"],
            "model": ["CreateModel", "DescribeModel"],
            "transform-job": ["CreateTransformJob", "DescribeTransformJob", "StopTransformJob"],
        }
        for kind, actions in jobs.items():
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=[f"sagemaker:{a}" for a in actions] + ["sagemaker:AddTags"],
                resources=[f"{arn}:{kind}/pipelines-*"]))
            role.acknowledge_wildcard(f"Resource::{arn}:{kind}/pipelines-*",
                                      f"SageMaker Pipelines names every {kind} it starts pipelines-<execution id>-...: "
                                      "the wildcard is the execution-specific suffix")
        self._grant_tuning(role, arn)
        # Tuning trials are named by the tuning service after the tuning job (`<tuning job>-NNN-...`).
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sagemaker:DescribeTrainingJob"], resources=[f"{arn}:training-job/*"]))
        role.acknowledge_wildcard(f"Resource::{arn}:training-job/*",
                                  "DescribeTrainingJob only: tuning trials are named by the tuning service at run "
                                  "time, so the pipeline can only describe them by a wildcard")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["iam:PassRole"], resources=[r.role_arn for r in job_roles],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))

    @staticmethod
    def _grant_tuning(role: PlatformRole, arn: str) -> None:
        """Tuning jobs by what they are, not by name.

        A tuning job name has at most 32 characters (CreateHyperParameterTuningJob API reference), so
        it cannot carry `pipelines-<execution id>-...`, and the SageMaker Pipelines documentation
        ("IAM access management") gives no name pattern for the tuning jobs it creates, only that the
        role needs Create and Describe for each job type. Creation is therefore scoped with the
        request's own condition keys (Service Authorization Reference, Amazon SageMaker): only
        network-isolated tuning jobs with inter-container encryption, in this account and region.
        """
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="CreateIsolatedTuningJobs", actions=["sagemaker:CreateHyperParameterTuningJob"],
            resources=[f"{arn}:hyper-parameter-tuning-job/*"],
            conditions={"Bool": {"sagemaker:NetworkIsolation": "true",
                                 "sagemaker:InterContainerTrafficEncryption": "true"}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="WatchTuningJobs", resources=[f"{arn}:hyper-parameter-tuning-job/*"],
            # AddTags: the tags Pipelines puts on the job (the request carries no isolation keys).
            actions=["sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
                     "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "sagemaker:AddTags"]))
        role.acknowledge_wildcard(f"Resource::{arn}:hyper-parameter-tuning-job/*",
                                  "Tuning job names (at most 32 characters) follow no documented pattern; creation "
                                  "is limited by condition to network-isolated jobs with inter-container encryption")

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Start (not stop, not change) executions of this pipeline only."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:StartPipelineExecution"],
                                          resource_arns=[self.pipeline_arn])
