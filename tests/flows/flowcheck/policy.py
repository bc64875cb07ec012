"""Policy documents and the matching of one statement against one request.

Only what our templates (and the capabilities planned next) use: Effect, Action/NotAction,
Resource/NotResource, Principal/NotPrincipal (AWS account root or id, role ARNs, `*`, service
principals) and Condition (see conditions.py). Anything else raises `UnsupportedPolicy`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowcheck.conditions import Context, UnsupportedPolicy, conditions_hold, glob_match

ACCOUNT_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
KNOWN_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal",
              "Condition"}


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role (its ARN; sessions of the role act as it) or an AWS service."""
    arn: str = ""
    service: str = ""

    @classmethod
    def role(cls, arn: str) -> "Principal":
        return cls(arn=arn)

    @classmethod
    def of_service(cls, service: str) -> "Principal":
        return cls(service=service)

    @property
    def account(self) -> str:
        return self.arn.split(":")[4] if self.arn else ""

    @property
    def is_service(self) -> bool:
        return bool(self.service)

    def __str__(self) -> str:
        return self.service or self.arn


@dataclass(frozen=True)
class Request:
    """One authorization question: may `principal` do `action` on `resource` (an ARN) in this context?"""
    principal: Principal
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.principal} {self.action} {self.resource}"


def statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The statements of a policy document (a single statement object counts as a list of one)."""
    if not document:
        return []
    body = document.get("Statement", [])
    found = [body] if isinstance(body, Mapping) else list(body)
    for statement in found:
        unknown = set(statement) - KNOWN_KEYS
        if unknown:
            raise UnsupportedPolicy(f"statement elements {sorted(unknown)} are not supported: {statement}")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"statement without Effect Allow/Deny: {statement}")
    return found


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches_any(patterns: str | Sequence[str], value: str, *, ignore_case: bool) -> bool:
    return any(glob_match(p, value, ignore_case=ignore_case) for p in _values(patterns))


def action_applies(statement: Mapping[str, Any], action: str) -> bool:
    """Action names are case-insensitive (`s3:getobject` is `s3:GetObject`)."""
    if "NotAction" in statement:
        return not _matches_any(statement["NotAction"], action, ignore_case=True)
    return _matches_any(statement.get("Action", []), action, ignore_case=True)


def resource_applies(statement: Mapping[str, Any], resource: str) -> bool:
    """ARNs are matched case-sensitively; a statement without Resource (trust policies) applies."""
    if "NotResource" in statement:
        return not _matches_any(statement["NotResource"], resource, ignore_case=False)
    if "Resource" not in statement:
        return True
    return _matches_any(statement["Resource"], resource, ignore_case=False)


def principal_match(element: Any, principal: Principal) -> str | None:
    """'direct' when the element names the principal (or `*`), 'account' when it names only the
    principal's account (the account then delegates to its IAM policies), None otherwise."""
    if element == "*":
        return "direct"
    if not isinstance(element, Mapping):
        raise UnsupportedPolicy(f"Principal element {element!r} is not supported")
    unknown = set(element) - {"AWS", "Service"}
    if unknown:
        raise UnsupportedPolicy(f"Principal types {sorted(unknown)} are not supported")
    if principal.is_service:
        names = _values(element.get("Service", []))
        return "direct" if principal.service in names or "*" in _values(element.get("AWS", [])) else None
    found = None
    for name in _values(element.get("AWS", [])):
        root = ACCOUNT_ROOT.match(name)
        if name == "*" or name == principal.arn:
            return "direct"
        if (root and root.group(1) == principal.account) or name == principal.account:
            found = "account"
    return found


def statement_principal(statement: Mapping[str, Any], principal: Principal) -> str | None:
    if "NotPrincipal" in statement:
        return None if principal_match(statement["NotPrincipal"], principal) else "direct"
    if "Principal" not in statement:
        raise UnsupportedPolicy(f"resource policy statement without Principal: {statement}")
    return principal_match(statement["Principal"], principal)


def statement_applies(statement: Mapping[str, Any], request: Request, context: Context) -> bool:
    """Action, resource and conditions (not the principal: see `statement_principal`)."""
    return (action_applies(statement, request.action) and resource_applies(statement, request.resource)
            and conditions_hold(statement.get("Condition"), context))
