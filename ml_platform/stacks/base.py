"""The base of every stack: no lookups at synth."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct


class PlatformStack(cdk.Stack):
    """A stack whose availability zones come from configuration.

    `Stack.availability_zones` would otherwise be looked up in the account (a context provider
    that needs credentials) as soon as a VPC checks its AZs against the stack's; synth must make
    no AWS call, so the zones are declared in the environment's configuration instead.
    """

    def __init__(self, scope: Construct, construct_id: str, *, availability_zones: Sequence[str],
                 **kwargs: Any) -> None:
        self._configured_azs = list(availability_zones)
        super().__init__(scope, construct_id, **kwargs)

    @property
    def availability_zones(self) -> list[str]:
        return self._configured_azs
