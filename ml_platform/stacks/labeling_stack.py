"""Labeling stack (`labeling.enabled`): private workforce, Ground Truth functions, job launcher and
active learning. Composed by the Stage only when enabled; see ml_platform/config_sections/labeling.py.
The parts are built by `ml_platform/constructs/labeling/` (task_functions.py, machines.py).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.catalog import EventSchema
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.labeling.environment import LAKE_KEY_USERS, LabelingEnvironment, worker_topic_key
from ml_platform.constructs.labeling.labeled_table import LabeledEventsTable
from ml_platform.constructs.labeling.machines import build_active_learning, build_launcher, job_settings
from ml_platform.constructs.labeling.task_functions import build_ground_truth, build_task_functions
from ml_platform.constructs.labeling.workforce import PrivateWorkforce
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack

__all__ = ["LAKE_KEY_USERS", "LabelingStack"]


class LabelingStack(PlatformStack):
    """`<Env>/Labeling`: everything Ground Truth and active learning need in this environment.

    Exposes `workforce`, the three functions (`pre_annotation`, `consolidation`, `steps`),
    `ground_truth` (the jobs' execution role), `launcher`, `model_jobs`, `active_learning` and
    `labeled_table` (the exported labels in the curated database; deploy after the Catalog stack).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        naming: Naming,
        network: SecureVpc,
        lake_key: kms.IKey,
        logs_key: kms.IKey,
        alerting: Alerting,
        removal_policy: cdk.RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        env = LabelingEnvironment(config, naming, network, lake_key, logs_key, alerting, removal_policy)
        cfg = config.labeling
        self.workforce = PrivateWorkforce(
            self,
            "Workforce",
            name=naming.resource_name("workforce"),
            groups=cfg.workteam_groups,
            topic_key=worker_topic_key(self, removal_policy),
            logs_key=logs_key,
            log_retention=env.log_retention,
            restore_role_name=naming.role_name(RolePurpose.LABELING_PORTAL_URLS),
            removal_policy=removal_policy,
            existing_workforce_name=cfg.existing_workforce_name,
            existing_workteam_arn=cfg.existing_workteam_arn,
        )
        functions = build_task_functions(self, env)
        self.pre_annotation, self.consolidation, self.steps = (
            functions.pre_annotation, functions.consolidation, functions.steps)
        self.ground_truth = build_ground_truth(self, env, functions)
        settings = job_settings(env, self.ground_truth, self.workforce.workteam_arn, functions)
        self.launcher = build_launcher(self, env, settings, functions)
        self.model_jobs, self.active_learning = build_active_learning(self, env, self.launcher, functions)
        self.labeled_table = LabeledEventsTable(self, "LabeledEventsTable", account=config.account,
                                                prefix=naming.prefix, curated_bucket=env.curated_bucket,
                                                schema=EventSchema.load())
