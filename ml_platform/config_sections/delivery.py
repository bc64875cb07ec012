"""Delivery section: the CI/CD pipeline in the tooling account (`config/pipeline.yaml`)."""
from __future__ import annotations

import re
from typing import Annotated

from ml_platform.config_sections.base import (
    AccountId,
    EmailAddress,
    LogRetentionDays,
    NamePrefix,
    RegionName,
    Section,
    matching,
)
from ml_platform.config_sections.foundation import CostTags

# CodeStar Connections (older) or AWS CodeConnections ARN of the source repository's connection.
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,255}(?<!/)$")


class PipelineConfig(Section):
    """The CI/CD pipeline in the tooling account that promotes dev -> staging -> prod.

    `connection_arn` is an existing (console-authorized) connection to the repository host;
    `approval_email`, when set, is notified when a prod promotion waits for manual approval.
    """

    account: AccountId
    region: RegionName
    name_prefix: NamePrefix
    tags: CostTags
    connection_arn: Annotated[str, matching(_CONNECTION_ARN, "not a CodeConnections/CodeStar connection ARN "
                                            "(arn:aws:codeconnections:<region>:<account>:connection/<uuid>)")]
    repository: Annotated[str, matching(_REPOSITORY, "must be 'owner/name' (e.g. my-org/ml-platform)")]
    branch: Annotated[str, matching(_BRANCH, "not a valid git branch name")] = "main"
    approval_email: EmailAddress | None = None
    log_retention_days: LogRetentionDays = 365
