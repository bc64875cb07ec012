"""A flow: who, and every check its work depends on; its verdict lists each denied check with the
reason, so a failing test says which permission is missing where."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flowcheck.calls import Check
from flowcheck.platform import Platform


@dataclass
class Flow:
    name: str
    checks: list[Check] = field(default_factory=list)

    def add(self, checks: Iterable[Check]) -> "Flow":
        self.checks.extend(checks)
        return self

    def denied(self, platform: Platform) -> list[str]:
        found = []
        for check in self.checks:
            decision = check.decide(platform)
            if not decision.allowed:
                found.append(f"DENIED {check}\n    because {decision.reason}")
        return found


def assert_authorized(platform: Platform, flow: Flow) -> None:
    """Every check of the flow is allowed; otherwise fail with the denied ones."""
    assert flow.checks, f"flow {flow.name} has no checks: it would prove nothing"
    denied = flow.denied(platform)
    assert not denied, f"flow {flow.name}: {len(denied)} of {len(flow.checks)} checks denied\n" + "\n".join(
        dict.fromkeys(denied))
