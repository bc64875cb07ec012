"""What every configuration section shares: strict models and the validators several sections use."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)-(gov-)?[a-z]+-\d$")
NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
IAM_PRINCIPAL = re.compile(r"^arn:aws:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[0-9]*x?large$|^ml\.[a-z0-9]+\.(medium|large)$")

PositiveDays = Annotated[int, Field(ge=1, le=36500)]
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)


class Section(BaseModel):
    # Unknown keys are typos until proven otherwise; values are never coerced across types.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs retention must be one of {LOG_RETENTION_DAYS}")
    return value


def matching(pattern: re.Pattern[str], reason: str) -> AfterValidator:
    """A validator refusing strings that do not match `pattern`, with a reason a user can act on."""
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(reason)
        return value
    return AfterValidator(check)


AccountId = Annotated[str, matching(ACCOUNT_ID, "must be a 12-digit AWS account id, quoted as a string")]
RegionName = Annotated[str, matching(REGION, "not an AWS region name (e.g. eu-west-1)")]
NamePrefix = Annotated[str, matching(
    NAME_PREFIX, "3-20 characters: lower-case letters, digits and '-', starting with a letter")]
EmailAddress = Annotated[str, matching(EMAIL, "not an e-mail address")]
LogRetentionDays = Annotated[int, AfterValidator(log_retention)]
