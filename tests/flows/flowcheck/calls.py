"""Checks, and the AWS calls behind one logical operation as AWS documents them.

A `Check` is one authorization question a flow depends on: an IAM request (`Call`), a Lake
Formation permission (`LakeFormationPermission`) or data-location permission (`DataLocation`).
The helpers below expand one operation into every call it makes, e.g. reading an SSE-KMS object is
`s3:GetObject` by the principal and `kms:Decrypt` by the same principal through S3 (S3 User Guide,
"Using server-side encryption with AWS KMS keys").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from flowcheck.evaluate import Decision
from flowcheck.platform import Platform
from flowcheck.policy import Principal, Request


class Check(Protocol):
    def decide(self, platform: Platform) -> Decision: ...


@dataclass(frozen=True)
class Call:
    principal: Principal
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    why: str = ""

    def decide(self, platform: Platform) -> Decision:
        return platform.authorize(Request(self.principal, self.action, self.resource, self.context))

    def __str__(self) -> str:
        return f"{self.principal} {self.action} {self.resource}" + (f" ({self.why})" if self.why else "")


@dataclass(frozen=True)
class LakeFormationPermission:
    principal: Principal
    permission: str
    database: str
    table: str | None = None

    def decide(self, platform: Platform) -> Decision:
        target = self.database if self.table is None else f"{self.database}.{self.table}"
        if platform.lake_formation.allows(self.principal.arn, self.permission, self.database, self.table):
            return Decision(True, f"Lake Formation grants {self.permission} on {target}")
        return Decision(False, f"no Lake Formation grant of {self.permission} on {target} to {self.principal}")

    def __str__(self) -> str:
        return f"{self.principal} lakeformation {self.permission} on {self.database}.{self.table or '(database)'}"


@dataclass(frozen=True)
class DataLocation:
    principal: Principal
    s3_arn: str

    def decide(self, platform: Platform) -> Decision:
        if platform.lake_formation.allows_location(self.principal.arn, self.s3_arn):
            return Decision(True, "DATA_LOCATION_ACCESS granted (or location not registered)")
        return Decision(False, f"no DATA_LOCATION_ACCESS on the registered location of {self.s3_arn} "
                               f"for {self.principal}")

    def __str__(self) -> str:
        return f"{self.principal} lakeformation DATA_LOCATION_ACCESS {self.s3_arn}"


def _via(platform: Platform, service: str) -> dict[str, Any]:
    return {"kms:ViaService": f"{service}.{platform.region}.amazonaws.com"}


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _key_calls(platform: Platform, p: Principal, resource: str, actions: tuple[str, ...], service: str,
               why: str, key: str | None = None) -> list[Check]:
    key = key or platform.key_of(resource)
    return [Call(p, a, key, _via(platform, service), why) for a in actions] if key else []


def s3_read(platform: Platform, p: Principal, uri: str, why: str = "") -> list[Check]:
    """List the prefix, get its objects, decrypt them (SSE-KMS) through S3."""
    bucket, key = split_s3_uri(uri)
    obj = f"arn:aws:s3:::{bucket}/{key or 'object'}"
    return [Call(p, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key}, why),
            Call(p, "s3:GetObject", obj, {}, why),
            *_key_calls(platform, p, obj, ("kms:Decrypt",), "s3", why)]


def s3_write(platform: Platform, p: Principal, uri: str, why: str = "", kms_key: str | None = None) -> list[Check]:
    """Put objects (multipart included) under the prefix, encrypted with `kms_key` or the bucket's key."""
    bucket, key = split_s3_uri(uri)
    obj = f"arn:aws:s3:::{bucket}/{key.rstrip('/')}/object" if key else f"arn:aws:s3:::{bucket}/object"
    return [Call(p, "s3:PutObject", obj, {}, why), Call(p, "s3:AbortMultipartUpload", obj, {}, why),
            *_key_calls(platform, p, obj, ("kms:GenerateDataKey", "kms:Decrypt"), "s3", why, kms_key)]


def sqs_send(platform: Platform, p: Principal, queue_arn: str, why: str = "") -> list[Check]:
    """SendMessage to an SSE-KMS queue needs GenerateDataKey and Decrypt (SQS Developer Guide, key management)."""
    return [Call(p, "sqs:SendMessage", queue_arn, {}, why),
            *_key_calls(platform, p, queue_arn, ("kms:GenerateDataKey", "kms:Decrypt"), "sqs", why)]


def kinesis_write(platform: Platform, p: Principal, stream_arn: str, why: str = "") -> list[Check]:
    """Producers of an encrypted stream need kms:GenerateDataKey (Kinesis Developer Guide, SSE permissions)."""
    return [Call(p, "kinesis:PutRecord", stream_arn, {}, why), Call(p, "kinesis:PutRecords", stream_arn, {}, why),
            *_key_calls(platform, p, stream_arn, ("kms:GenerateDataKey",), "kinesis", why)]


def kinesis_read(platform: Platform, p: Principal, stream_arn: str, why: str = "") -> list[Check]:
    return [*(Call(p, f"kinesis:{a}", stream_arn, {}, why)
              for a in ("DescribeStream", "ListShards", "GetShardIterator", "GetRecords")),
            *_key_calls(platform, p, stream_arn, ("kms:Decrypt",), "kinesis", why)]


def logs_write(platform: Platform, p: Principal, group: str, why: str = "logs") -> list[Check]:
    """Create a stream and put events; an encrypted group makes the Logs service use its key
    (Logs User Guide, "Encrypt log data": key policy for logs.<region>.amazonaws.com)."""
    group_arn = f"arn:aws:logs:{platform.region}:{platform.account}:log-group:{group}"
    stream = f"{group_arn}:log-stream:stream"
    checks: list[Check] = [Call(p, "logs:CreateLogStream", stream, {}, why),
                           Call(p, "logs:PutLogEvents", stream, {}, why)]
    key = platform.key_of(f"{group_arn}:*")
    if key:
        logs = Principal.of_service(f"logs.{platform.region}.amazonaws.com")
        checks += [Call(logs, a, key, {"kms:EncryptionContext:aws:logs:arn": group_arn}, f"{why}: Logs uses the key")
                   for a in ("kms:GenerateDataKey", "kms:Decrypt")]
    return checks


def log_group_name(platform: Platform, log_group_arn: str) -> str:
    return log_group_arn.split(":log-group:", 1)[1].removesuffix(":*")


def vpc_network_interfaces(platform: Platform, p: Principal, *, subnets: Sequence[str], security_groups: Sequence[str],
                           why: str = "ENIs in the VPC") -> list[Check]:
    """A service placing work in `subnets` with `security_groups` creates an interface with the role:
    EC2 authorizes CreateNetworkInterface on the new interface, the subnet and each security group
    (Service Authorization Reference, Amazon EC2), then deletes it; Describe* take no resource."""
    arn = f"arn:aws:ec2:{platform.region}:{platform.account}"
    eni = f"{arn}:network-interface/eni-0123456789abcdef0"
    assert subnets and security_groups, f"{why}: a VPC placement names its subnets and security groups"
    return [*(Call(p, "ec2:CreateNetworkInterface", resource, {}, why)
              for resource in (eni, *(f"{arn}:subnet/{s}" for s in subnets),
                               *(f"{arn}:security-group/{g}" for g in security_groups))),
            Call(p, "ec2:DeleteNetworkInterface", eni, {}, why),
            *(Call(p, f"ec2:{a}", "*", {}, why) for a in ("DescribeNetworkInterfaces", "DescribeSubnets"))]


def image_pull(platform: Platform, p: Principal, image_uri: str, why: str = "image pull") -> list[Check]:
    """`<acct>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` -> the ECR calls of a pull (ECR User Guide,
    "Pulling an image": an authorization token, then BatchGetImage and GetDownloadUrlForLayer;
    BatchCheckLayerAvailability is a push call)."""
    registry, _, rest = image_uri.partition("/")
    account, region = registry.split(".")[0], registry.split(".")[3]
    repo = f"arn:aws:ecr:{region}:{account}:repository/{rest.split(':')[0].split('@')[0]}"
    return [Call(p, "ecr:GetAuthorizationToken", "*", {}, why),
            *(Call(p, f"ecr:{a}", repo, {}, why)
              for a in ("GetDownloadUrlForLayer", "BatchGetImage"))]


def volume_key_grant(p: Principal, key: str, service: str, why: str) -> Call:
    """An AWS service encrypting a volume with a customer key creates a grant for it in the
    caller's name (KMS Developer Guide, "How AWS services use AWS KMS": kms:GrantIsForAWSResource)."""
    return Call(p, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "true",
                                            "kms:ViaService": f"{service}.{key.split(':')[3]}.amazonaws.com"}, why)


def pass_role(p: Principal, role_arn: str, service: str, why: str) -> Call:
    return Call(p, "iam:PassRole", role_arn, {"iam:PassedToService": service}, why)


def assume(platform: Platform, service: str, role: Principal) -> Call:
    return Call(Principal.of_service(service), "sts:AssumeRole", role.arn,
                {"aws:SourceAccount": platform.account}, f"{service} assumes the role")
