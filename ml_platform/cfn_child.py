"""The CloudFormation resource behind an L2 construct, typed (`node.default_child` is `IConstruct | None`)."""
from __future__ import annotations

from typing import TypeVar

import aws_cdk as cdk
from constructs import IConstruct

_Cfn = TypeVar("_Cfn", bound=cdk.CfnElement)


def cfn_child(construct: IConstruct, kind: type[_Cfn]) -> _Cfn:
    """`construct.node.default_child` as `kind`; TypeError when the construct has no such child
    (an L2 whose implementation changed would otherwise fail later with an unclear AttributeError)."""
    child = construct.node.default_child
    if not isinstance(child, kind):
        raise TypeError(f"{construct.node.path}: default child is {type(child).__name__}, not {kind.__name__}")
    return child
