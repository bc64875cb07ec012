"""The IAM decision for one request, as the IAM User Guide's "Policy evaluation logic" describes it.

1. An explicit Deny in any applicable policy (identity, permissions boundary, resource) wins.
2. Same account: allowed when the identity policies allow (within the permissions boundary, if the
   role has one) or a resource policy allows the principal by its own ARN (or `*`). A resource
   policy naming only the account (`arn:aws:iam::<acct>:root`) delegates to IAM: it adds nothing
   on its own.
3. Cross-account: the identity policies AND the resource policy must both allow.
4. KMS keys: the key policy must allow, either the principal itself or its account (and then the
   identity policies must allow too). With no key-policy Allow, IAM policies are never enough.
5. An AWS service acting as itself (service principal) has no identity policy: only the resource
   policy (trust policy, topic/bucket/key policy, Lambda permission) can allow it.
Not modelled (no template uses them): SCPs/RCPs, session policies, policy variables, VPC endpoint
policies, S3 ACLs.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowcheck.policy import Request, statement_applies, statement_principal, statements

Document = Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """The answer and the reason a reader needs to fix a denial."""
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def request_context(request: Request, resource_account: str) -> dict[str, Any]:
    """Request context keys AWS always sets for our requests (over TLS, from the principal); the
    request's own context (`aws:SourceArn`, `kms:ViaService`, ...) overrides or adds to them."""
    context: dict[str, Any] = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}
    if request.principal.is_service:
        context["aws:PrincipalServiceName"] = request.principal.service
    else:
        context.update({"aws:PrincipalArn": request.principal.arn, "aws:PrincipalAccount": request.principal.account,
                        "aws:PrincipalType": "AssumedRole"})
        if request.action.lower().startswith("kms:"):
            context["kms:CallerAccount"] = request.principal.account
    context["aws:ResourceAccount"] = resource_account
    context.update(request.context)
    return context


def _identity_effects(documents: Sequence[Document], request: Request, context: Mapping[str, Any]) -> set[str]:
    return {s["Effect"] for d in documents for s in statements(d) if statement_applies(s, request, context)}


def _resource_effects(document: Document | None, request: Request, context: Mapping[str, Any]) -> dict[str, set[str]]:
    """Effect -> how the principal matched ('direct' or 'account') over the applicable statements."""
    found: dict[str, set[str]] = {"Allow": set(), "Deny": set()}
    for statement in statements(document):
        match = statement_principal(statement, request.principal)
        if match and statement_applies(statement, request, context):
            found[statement["Effect"]].add(match)
    return found


def evaluate(request: Request, *, identity: Sequence[Document] = (), boundary: Sequence[Document] | None = None,
             resource_policy: Document | None = None, resource_account: str, key_policy: bool = False) -> Decision:
    """Decide one request. `identity`: the principal's policies (none for a service principal);
    `boundary`: its permissions boundary, if any; `resource_policy`: the policy on the resource
    (for a KMS key its key policy, with `key_policy=True`)."""
    context = request_context(request, resource_account)
    is_service = request.principal.is_service
    identity_effects = set() if is_service else _identity_effects(identity, request, context)
    boundary_effects = None if boundary is None else _identity_effects(boundary, request, context)
    resource = _resource_effects(resource_policy, request, context)
    if "Deny" in identity_effects or resource["Deny"] or (boundary_effects and "Deny" in boundary_effects):
        return Decision(False, f"explicit deny: {request}")
    identity_allows = "Allow" in identity_effects and (boundary_effects is None or "Allow" in boundary_effects)
    direct, via_account = "direct" in resource["Allow"], "account" in resource["Allow"]
    same_account = is_service or request.principal.account == resource_account
    if key_policy:
        if not (direct or via_account):
            return Decision(False, f"the key policy allows neither the principal nor its account: {request}")
        if direct and same_account:
            return Decision(True, "the key policy allows the principal")
        if identity_allows:
            return Decision(True, "the key policy allows the account and the identity policies allow")
        return Decision(False, f"the key policy delegates to IAM, and no identity policy allows: {request}")
    if is_service:
        return (Decision(True, "the resource policy allows the service") if direct
                else Decision(False, f"no resource policy allows the service: {request}"))
    if same_account:
        if identity_allows:
            return Decision(True, "the identity policies allow")
        if direct and (boundary_effects is None or "Allow" in boundary_effects):
            return Decision(True, "the resource policy allows the principal")
        return Decision(False, f"no identity or resource policy allows: {request}")
    if identity_allows and (direct or via_account):
        return Decision(True, "cross-account: identity and resource policies allow")
    missing = "identity policy" if not identity_allows else "resource policy"
    return Decision(False, f"cross-account: no {missing} allows: {request}")
