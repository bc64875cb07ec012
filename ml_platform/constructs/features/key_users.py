"""Which feature-store roles the domain keys must admit, and CloudFormation's part in CreateFeatureGroup."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_iam as iam

from ml_platform.config_sections.features import FeaturesConfig
from ml_platform.constants import BOOTSTRAP_QUALIFIER, KeyDomain, RolePurpose
from ml_platform.constructs.features.feature_group import feature_group_creator_statement
from ml_platform.naming import Naming


def offline_store_role_purpose(group_name: str) -> str:
    """The purpose (role name suffix) of a group's offline-store role."""
    return f"feature-store-{group_name}"


# The Glue jobs of the feature store (constructs/features/feature_jobs.py).
GLUE_JOB_ROLES = (RolePurpose.FEATURE_BACKFILL, RolePurpose.FEATURE_TRAINING_SET)


def feature_store_key_users(key_users: Mapping[KeyDomain, Sequence[str]], features: FeaturesConfig, *,
                            online_readers: Sequence[str] = ()) -> dict[KeyDomain, tuple[str, ...]]:
    """`key_users` plus the feature-store role purposes: the lake key (both stores use it) for the
    ingestion function, every offline-store role, the compaction schedules, the Glue jobs and the
    `online_readers` (GetRecord decrypts with it: the endpoint's model role); the streaming key
    (the stream and the dead-letter queues) for the ingestion function; the logs key (Glue's
    encrypted logs) and the models key (the artifacts bucket: Glue temp files, statistics) for the
    Glue jobs."""
    users = {domain: tuple(roles) for domain, roles in key_users.items()}
    if not features.enabled:
        return users
    lake: list[str] = [RolePurpose.FEATURE_INGESTION, RolePurpose.FEATURE_STORE_COMPACTION, *GLUE_JOB_ROLES]
    lake += [offline_store_role_purpose(g.name) for g in features.groups if g.offline_store]
    lake += [r for r in online_readers if r not in users.get(KeyDomain.LAKE, ())]
    extra = {KeyDomain.LAKE: tuple(lake), KeyDomain.STREAMING: (RolePurpose.FEATURE_INGESTION,),
             KeyDomain.LOGS: GLUE_JOB_ROLES, KeyDomain.MODELS: GLUE_JOB_ROLES}
    for domain, roles in extra.items():
        users[domain] = users.get(domain, ()) + roles
    return users


def feature_store_key_statements(naming: Naming,
                                 features: FeaturesConfig) -> dict[KeyDomain, list[iam.PolicyStatement]]:
    """Extra key-policy statements per domain: the lake key admits CloudFormation's execution role
    (the CDK bootstrap's, which deploys every stack) for CreateFeatureGroup's KMS calls."""
    if not features.enabled:
        return {}
    exec_role = (f"arn:aws:iam::{naming.account}:role/cdk-{BOOTSTRAP_QUALIFIER}-cfn-exec-role-"
                 f"{naming.account}-{naming.region}")
    return {KeyDomain.LAKE: [feature_group_creator_statement(exec_role)]}
