"""cdk-nag acknowledgments of the training stack's scoped wildcards, one finding at a time.

Every acknowledged finding is a wildcard inside a named prefix or a CDK grant's action group;
the reason says which, so a reviewer can check it against the policy.
"""
from __future__ import annotations

import aws_cdk as cdk

from ml_platform import nag
from ml_platform.naming import Naming

_S3_ACTIONS = {
    "s3:GetObject*": "CDK's read grant (GetObject, GetObjectVersion, GetObjectTagging...)",
    "s3:GetBucket*": "CDK's read grant (GetBucketLocation and friends) on the bucket itself",
    "s3:List*": "CDK's read grant (ListBucket, ListBucketVersions) on the bucket itself",
}
_WRITE_ACTIONS = {
    "s3:DeleteObject*": "CDK's write grant (DeleteObject, DeleteObjectVersion)",
    "s3:Abort*": "CDK's write grant (AbortMultipartUpload for large job outputs)",
    "kms:GenerateDataKey*": "CDK's key grant: SSE-KMS writes need GenerateDataKey(WithoutPlaintext)",
    "kms:ReEncrypt*": "CDK's key grant: ReEncryptFrom/To of SSE-KMS objects",
}


def _ack_action_groups(policy, actions: dict[str, str]) -> None:
    for action, what in actions.items():
        nag.acknowledge(policy, nag.wildcard_finding(f"Action::{action}"),
                        f"{what}; limited by the statement's resources to the pipeline's own prefixes")


def acknowledge_training_grants(stack, *, naming: Naming, training_ready_prefix: str) -> None:
    """Acknowledge the IAM5 findings on the training stack's role policies, each with its reason."""
    region, account = cdk.Stack.of(stack).region, cdk.Stack.of(stack).account
    artifacts = f"arn:aws:s3:::{naming.bucket_name('artifacts')}/pipelines/*"
    assets = f"arn:aws:s3:::cdk-hnb659fds-assets-{account}-{region}/*"
    for role in (stack.processing_role, stack.training_role):
        policy = role.grants_policy
        _ack_action_groups(policy, {**_S3_ACTIONS, **_WRITE_ACTIONS})
        nag.acknowledge(policy, nag.wildcard_finding(f"Resource::{artifacts}"),
                        "Jobs read and write only the pipeline's prefix of the artifacts bucket; object "
                        "keys are per execution and step")
        nag.acknowledge(policy, nag.wildcard_finding(f"Resource::{assets}"),
                        "CDK's file-asset grant on the bootstrap asset bucket: read-only; the code "
                        "tarball's key is content-hashed and changes with the code")
    nag.acknowledge(stack.processing_role.grants_policy, nag.wildcard_finding(
        f"Resource::arn:aws:s3:::{naming.bucket_name('features')}/{training_ready_prefix}*"),
        "Preprocessing reads only the training-ready prefix of the features bucket (read-only)")
    pipeline = stack.pipeline_role.grants_policy
    _ack_action_groups(pipeline, _S3_ACTIONS)
    nag.acknowledge(pipeline, nag.wildcard_finding(f"Resource::{artifacts}"),
                    "SageMaker Pipelines reads evaluation.json (the condition's PropertyFile) from the "
                    "pipeline's prefix; read-only")
    sm = f"arn:aws:sagemaker:{region}:{account}"
    for kind in ("processing-job", "model", "transform-job"):
        nag.acknowledge(pipeline, nag.wildcard_finding(f"Resource::{sm}:{kind}/pipelines-*"),
                        f"SageMaker Pipelines names every {kind} it starts pipelines-<execution id>-...: "
                        "the wildcard is the execution-specific suffix")
    nag.acknowledge(pipeline, nag.wildcard_finding(f"Resource::{sm}:hyper-parameter-tuning-job/*"),
                    "Tuning job names (at most 32 characters) follow no documented pattern; creation is "
                    "limited by condition to network-isolated jobs with inter-container encryption")
    nag.acknowledge(pipeline, nag.wildcard_finding(f"Resource::{sm}:training-job/*"),
                    "DescribeTrainingJob only: tuning trials are named by the tuning service at run "
                    "time, so the pipeline can only describe them by a wildcard")
    nag.acknowledge(pipeline, nag.wildcard_finding(
        f"Resource::{sm}:model-package/{stack.registry.group_name}/*"),
        "Model versions of this use case's group only: the wildcard is the version number")
