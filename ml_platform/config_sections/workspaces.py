"""Workspaces: the SageMaker Studio domain, its user profiles and the persona each profile works as."""
from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from ml_platform.config_sections.base import Section, matching

# SageMaker's pattern for domain and user-profile names.
PROFILE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class Persona(StrEnum):
    """Who a person works as; each has its own role with only what that work needs."""

    DATA_SCIENTIST = "data-scientist"
    ML_ENGINEER = "ml-engineer"
    LABELING_ADMIN = "labeling-admin"
    AUDITOR = "auditor"


class UserProfileConfig(Section):
    """One Studio user profile, bound to one persona (its execution role)."""

    name: Annotated[str, matching(PROFILE_NAME, "1-63 letters, digits and '-', starting and ending with a "
                                                "letter or digit (SageMaker's user-profile name pattern)")]
    # YAML holds the persona's name; strict mode would refuse a string for the enum.
    persona: Annotated[Persona, Field(strict=False)]


class StudioDomainConfig(Section):
    """The domain's settings. `version` is part of the domain's name: the domain's create-only
    properties (auth mode, name, KMS key, VPC and subnets, tags) can only change by bumping it, which
    creates a new domain beside the old one (see `config/locks/workspaces.json`)."""

    version: Annotated[int, Field(ge=1, le=999)] = 1
    # Studio stops idle JupyterLab and Code Editor apps after this many minutes (60 to 525,600).
    idle_shutdown_minutes: Annotated[int, Field(ge=60, le=525600)] = 120


class WorkspacesConfig(Section):
    """`workspaces.enabled` builds the Studio domain, the persona roles and the user profiles."""

    enabled: bool = False
    domain: StudioDomainConfig = StudioDomainConfig()
    user_profiles: tuple[UserProfileConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_profiles(self) -> WorkspacesConfig:
        names = [p.name for p in self.user_profiles]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"user_profiles: names must be unique, repeated: {duplicates}")
        if self.user_profiles and not self.enabled:
            raise ValueError("user_profiles: set enabled: true, or remove the profiles (they need the domain)")
        return self
