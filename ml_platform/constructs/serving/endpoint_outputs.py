"""Where an endpoint's outputs go: its prefixes of the artifacts bucket and, in async mode, its result topics.

Data capture lands under `data-capture/`, async results and failures under `async-inference/`;
the model execution role may write under those two only. The deployer stages multi-model
archives under `multi-model/`.
"""
from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_platform.config_sections.serving import EndpointConfig
from ml_platform.constants import CAPTURE_PREFIX
from ml_platform.constructs.serving.endpoint_spec import EndpointSpec

ASYNC_PREFIX = "async-inference"
MULTI_MODEL_PREFIX = "multi-model"
# What the endpoint itself writes (the model execution role's only write grants in the bucket).
OUTPUT_PREFIXES = (CAPTURE_PREFIX, ASYNC_PREFIX)


class AsyncResultTopics:
    """The SNS topics an async endpoint notifies: one per result, one per failure.

    Behaviour: encrypted with `key`, TLS-only. The topics are created directly in `scope` (IDs
    `AsyncSuccess`, `AsyncError`), not under a construct of their own: construct IDs are a contract,
    and a deployed topic whose path changed would be replaced (its subscribers lost).
    """

    def __init__(self, scope: Construct, *, name_prefix: str, key: kms.IKey) -> None:
        self.success = sns.Topic(scope, "AsyncSuccess", master_key=key, enforce_ssl=True,
                                 display_name=f"{name_prefix} async inference results")
        self.error = sns.Topic(scope, "AsyncError", master_key=key, enforce_ssl=True,
                               display_name=f"{name_prefix} async inference failures")

    @property
    def topics(self) -> list[sns.ITopic]:
        return [self.success, self.error]

    @classmethod
    def for_endpoint(cls, scope: Construct, *, config: EndpointConfig, name_prefix: str,
                     key: kms.IKey) -> AsyncResultTopics | None:
        """The topics when the endpoint is async; other modes notify nobody."""
        return cls(scope, name_prefix=name_prefix, key=key) if config.mode == "async" else None


def endpoint_spec(*, config: EndpointConfig, endpoint_name: str, kms_key_arn: str, bucket_uri: str,
                  topics: AsyncResultTopics | None) -> EndpointSpec:
    """The endpoint's spec with its outputs under `bucket_uri` (`s3://<artifacts bucket>`) and `topics`."""
    return EndpointSpec(
        config=config, endpoint_name=endpoint_name, kms_key_arn=kms_key_arn,
        capture_s3_uri=f"{bucket_uri}/{CAPTURE_PREFIX}",
        async_output_s3_uri=f"{bucket_uri}/{ASYNC_PREFIX}/output",
        async_failure_s3_uri=f"{bucket_uri}/{ASYNC_PREFIX}/failure",
        success_topic_arn=topics.success.topic_arn if topics else None,
        error_topic_arn=topics.error.topic_arn if topics else None)
