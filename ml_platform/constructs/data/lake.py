"""The data lake: one bucket per zone, an access-log bucket, encryption and storage tiers."""
from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform import nag
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import KMS, S3_READ, S3_READ_WRITE, acknowledge_grants, object_arns

ZONES = ("raw", "curated", "features", "artifacts")


@dataclass(frozen=True)
class LifecycleTiers:
    """Days after creation at which objects of a zone move tier or expire (None: never)."""

    intelligent_tiering_days: int | None = None
    glacier_days: int | None = None
    expiration_days: int | None = None
    noncurrent_version_expiration_days: int = 90

    def rules(self) -> list[s3.LifecycleRule]:
        transitions = []
        if self.intelligent_tiering_days is not None:
            transitions.append(s3.Transition(storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                                             transition_after=cdk.Duration.days(self.intelligent_tiering_days)))
        if self.glacier_days is not None:
            transitions.append(s3.Transition(storage_class=s3.StorageClass.GLACIER,
                                             transition_after=cdk.Duration.days(self.glacier_days)))
        return [s3.LifecycleRule(
            id="Tiers",
            transitions=transitions or None,
            expiration=cdk.Duration.days(self.expiration_days) if self.expiration_days else None,
            noncurrent_version_expiration=cdk.Duration.days(self.noncurrent_version_expiration_days),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
        )]


_REPLICATION_REASON = (
    "Cross-region replication is a disaster-recovery choice with its own cost and data-residency "
    "review; data is versioned and KMS-encrypted in one region, and the bucket is retained in prod")


class SecureBucket(Construct):
    """An S3 bucket with the platform's defaults.

    Behaviour: SSE-KMS with the given key and S3 Bucket Keys; all public access blocked; bucket
    owner owns every object (ACLs off); TLS-only (requests over HTTP are denied by policy);
    versioning; server access logs to `access_logs` under `<name>/`; lifecycle from `tiers`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bucket_name: str, key: kms.IKey,
                 access_logs: s3.IBucket, tiers: LifecycleTiers, removal_policy: cdk.RemovalPolicy,
                 event_bridge: bool = False) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{bucket_name}/",
            lifecycle_rules=tiers.rules(),
            removal_policy=removal_policy,
            # `destroy` environments: emptied on `cdk destroy` (all versions), else deletion fails.
            auto_delete_objects=removal_policy == cdk.RemovalPolicy.DESTROY,
        )
        nag.acknowledge_all(self.bucket, nag.S3_REPLICATION, _REPLICATION_REASON)
        if event_bridge:
            # Native CloudFormation property, not `event_bridge_enabled=True` (which adds CDK's
            # notifications custom-resource Lambda).
            cfn_bucket = self.bucket.node.default_child
            assert isinstance(cfn_bucket, s3.CfnBucket)
            cfn_bucket.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)


def access_log_bucket(scope: Construct, construct_id: str, *, expiration_days: int,
                      removal_policy: cdk.RemovalPolicy, bucket_name: str | None = None) -> s3.Bucket:
    """A target bucket for S3 server access logs: private, TLS-only, versioned, expiring.

    Encrypted with SSE-S3 because S3 server access logging delivers only to SSE-S3 buckets; that
    one finding of each pack is acknowledged here. The caller acknowledges what depends on its use.
    """
    bucket = s3.Bucket(
        scope, construct_id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        lifecycle_rules=[s3.LifecycleRule(
            id="ExpireAccessLogs", expiration=cdk.Duration.days(expiration_days),
            noncurrent_version_expiration=cdk.Duration.days(30))],
        removal_policy=removal_policy,
        auto_delete_objects=removal_policy == cdk.RemovalPolicy.DESTROY,
    )
    nag.acknowledge_all(bucket, [f"{pack}-S3DefaultEncryptionKMS"
                                 for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")],
                        "S3 server access logging can only deliver to SSE-S3 buckets (AWS S3 user guide, "
                        "'Enabling Amazon S3 server access logging'); it holds request logs, not data")
    return bucket


class DataLake(Construct):
    """Zone buckets raw, curated, features and artifacts, plus the bucket their access logs go to.

    Zones raw/curated/features are encrypted with the lake key, artifacts (models, code, reports)
    with the models key, so model artifacts can be shared without opening the data.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bucket_names: dict[str, str],
                 lake_key: kms.IKey, models_key: kms.IKey, tiers: dict[str, LifecycleTiers],
                 access_log_expiration_days: int, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = access_log_bucket(
            self, "AccessLogs", bucket_name=bucket_names["access-logs"],
            expiration_days=access_log_expiration_days, removal_policy=removal_policy)
        nag.acknowledge_all(self.access_logs, nag.S3_REPLICATION, _REPLICATION_REASON)
        self.zones: dict[str, s3.Bucket] = {}
        for zone in ZONES:
            key = models_key if zone == "artifacts" else lake_key
            self.zones[zone] = SecureBucket(
                self, zone.capitalize(), bucket_name=bucket_names[zone], key=key,
                access_logs=self.access_logs, tiers=tiers[zone], removal_policy=removal_policy,
                # New training-ready data starts the training pipeline (EventBridge rule).
                event_bridge=zone == "features",
            ).bucket

    @property
    def raw(self) -> s3.Bucket:
        return self.zones["raw"]

    @property
    def curated(self) -> s3.Bucket:
        return self.zones["curated"]

    @property
    def features(self) -> s3.Bucket:
        return self.zones["features"]

    @property
    def artifacts(self) -> s3.Bucket:
        return self.zones["artifacts"]


def bucket_ref(scope: Construct, construct_id: str, bucket: s3.Bucket) -> s3.IBucket:
    """`bucket` by its literal name (it is set from `Naming.bucket_name`, so it never changes).

    The ARN is then readable in policies and nag findings instead of a cross-stack export whose
    name carries a hash; the key stays the bucket's own, so grants still cover its KMS key.
    """
    cfn_bucket = bucket.node.default_child
    name = cfn_bucket.bucket_name if isinstance(cfn_bucket, s3.CfnBucket) else None
    if not isinstance(name, str) or cdk.Token.is_unresolved(name):
        raise ValueError(f"{bucket.node.path} has no literal bucket name to refer to it by")
    return s3.Bucket.from_bucket_attributes(scope, construct_id, bucket_name=name,
                                            bucket_arn=f"arn:aws:s3:::{name}",
                                            encryption_key=bucket.encryption_key)


def grant_prefix_read(bucket: s3.IBucket, grantee: PlatformRole, prefix: str, reason: str) -> iam.Grant:
    """Read objects under `prefix` (`""`: the whole bucket); acknowledges the grant's IAM5 findings,
    the objects' wildcard with `reason` (why the keys cannot be named)."""
    grant = bucket.grant_read(grantee, f"{prefix}*")
    acknowledge_grants(grantee, actions=S3_READ, resources={object_arns(bucket, prefix): reason})
    return grant


def grant_prefix_read_write(bucket: s3.IBucket, grantee: PlatformRole, prefix: str, reason: str) -> iam.Grant:
    """Read and write objects under `prefix`; acknowledges the grant's IAM5 findings like `grant_prefix_read`."""
    grant = bucket.grant_read_write(grantee, f"{prefix}*")
    acknowledge_grants(grantee, actions=S3_READ_WRITE + KMS, resources={object_arns(bucket, prefix): reason})
    return grant
