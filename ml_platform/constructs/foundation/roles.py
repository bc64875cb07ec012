"""IAM building blocks shared by every capability."""
from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from ml_platform import nag


class PlatformRole(iam.Role):
    """A role whose `grant_*` permissions land in one customer-managed policy it owns.

    CDK grants normally write an inline default policy, which the HIPAA, NIST and PCI packs flag
    (IAMNoInlinePolicy) on every role. Routing them into a managed policy keeps least privilege
    (the statements are the same scoped grants) and makes the policy reviewable on its own.
    The role name is stable (`Naming.role_name`) because KMS key policies allow roles by ARN.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str,
                 assumed_by: iam.IPrincipal, description: str) -> None:
        super().__init__(scope, construct_id, role_name=role_name, assumed_by=assumed_by,
                         description=description)
        # The literal name (`role_name` is a token): what a function running with this role is named after.
        self.stable_name = role_name
        self.grants_policy = iam.ManagedPolicy(
            self, "GrantsPolicy", description=f"Least-privilege grants of {role_name}")
        self.add_managed_policy(self.grants_policy)
        self._acknowledged: set[str] = set()

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self.grants_policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self.grants_policy)

    def acknowledge_wildcard(self, detail: str, reason: str) -> None:
        """Acknowledge the AwsSolutions-IAM5 finding `detail` (`Action::...`/`Resource::...`) of this
        role's grants policy. Several grants can produce one finding: the first reason is kept."""
        if detail not in self._acknowledged:
            nag.acknowledge(self.grants_policy, nag.wildcard_finding(detail), reason)
            self._acknowledged.add(detail)
