"""Cost-allocation tags on every taggable resource."""
from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
import jsii
from constructs import IConstruct


@jsii.implements(cdk.IAspect)
class CostAllocationTags:
    """Aspect: set the environment's cost-allocation tags on every taggable resource below it.

    Applied at the Stage so that every stack, and every resource a later capability adds, carries
    Project, Environment, Owner and CostCenter without each construct having to remember them.
    """

    def __init__(self, tags: Mapping[str, str]) -> None:
        self._tags = dict(tags)

    def visit(self, node: IConstruct) -> None:
        if cdk.TagManager.is_taggable(node):
            tags: cdk.TagManager = node.tags  # type: ignore[attr-defined]  # is_taggable is not a TypeGuard in jsii
            for key, value in self._tags.items():
                tags.set_tag(key, value, 100, True)
