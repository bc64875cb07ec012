"""The SageMaker SDK v3 used at synth: no AWS call, no upload, imported once and quietly.

`offline(region)` pins the environment while the SDK builds a definition, `sdk()` imports it once
(and checks its config schema once instead of on every config lookup), `pipeline_session()` is a
session with telemetry off, a fixed region and a default bucket.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any


@contextmanager
def offline(region: str) -> Iterator[None]:
    """Environment for the SDK while it builds the definition, restored afterwards.

    Some SDK modules create boto3 clients at import time (they need a default region), and
    creating a client resolves credentials: without any configured, botocore would ask the EC2
    instance metadata service over the network. Both are pinned here so that synth makes no call.
    """
    # Roles are fixed ARNs: the SDK must not try to look them up in IAM.
    pinned = {"AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
              "SAGEMAKER_VALIDATE_ROLE": "false"}
    saved = {k: os.environ.get(k) for k in pinned}
    os.environ.update(pinned)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@lru_cache(maxsize=1)
def sdk() -> Any:
    """Import the SDK once, quietly (its INFO logs and warnings are noise in `cdk synth`)."""
    for name in ("sagemaker", "sagemaker.config"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"sagemaker\..*")
    from sagemaker.core.workflow import functions
    from sagemaker.mlops.workflow import pipeline  # noqa: F401
    _check_config_schema_once()
    return functions


def _check_config_schema_once() -> None:
    """Validate the session's SDK config against a schema checked once, not once per lookup.

    The SDK validates the session's config on every config lookup (about 50 per pipeline) with
    `jsonschema.validate`, which first checks the large, constant schema itself against its
    meta-schema: that check was ~40 % of a stage's synth time. This does what `jsonschema.validate`
    does (same validator class, same best-match error) with the schema check done once.
    """
    import jsonschema  # type: ignore[import-untyped]  # the SDK's own dependency
    from sagemaker.core.config import config_manager
    schema = config_manager.SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def validate(sagemaker_config: dict[str, Any] | None = None) -> None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(sagemaker_config))
        if error is not None:
            raise error

    config_manager.SageMakerConfig.validate_sagemaker_config = staticmethod(validate)


def pipeline_session(region: str, default_bucket: str) -> Any:
    """A PipelineSession that uploads nothing: telemetry off, fixed region and default bucket."""
    import boto3  # type: ignore[import-untyped]  # the SDK's own dependency; no stubs installed
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    config = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
    return PipelineSession(boto_session=boto3.Session(region_name=region),
                           default_bucket=default_bucket, sagemaker_config=config)
