"""Dashboard stack: the environment's CloudWatch dashboard, composed last by the Stage.

Its own stack because the Operations stack gives the alert topic to every other stack: a dashboard
there, watching those stacks, would make a dependency cycle. Nothing depends on this stack.
"""
from __future__ import annotations

from typing import Any

from constructs import Construct

from ml_platform.constructs.operations.dashboard import PlatformDashboard
from ml_platform.constructs.operations.dashboard_sources import DashboardSources
from ml_platform.stacks.base import PlatformStack


class DashboardStack(PlatformStack):
    """`<Env>/Dashboard`: one dashboard, `<prefix>-platform`, drawn from `sources`."""

    def __init__(self, scope: Construct, construct_id: str, *, dashboard_name: str, sources: DashboardSources,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.platform_dashboard = PlatformDashboard(self, "Platform", dashboard_name=dashboard_name, sources=sources)
        self.dashboard = self.platform_dashboard.dashboard
