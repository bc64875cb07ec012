"""Resources our templates use but do not create, modelled from what creates them.

- The CDK bootstrap bucket (`cdk-hnb659fds-assets-<account>-<region>`): its bucket policy is read
  from the bootstrap template of the pinned CDK CLI; `cdk bootstrap` without
  `--bootstrap-customer-key` encrypts it with the AWS managed key `aws/s3`, whose key policy (KMS
  Developer Guide, "AWS managed keys") admits every principal of the account through S3.
- AWS-owned SageMaker algorithm images (account 141502667606 in eu-west-1, ...): every account may pull
  them (SageMaker Developer Guide, "Docker Registry Paths and Example Code"); modelled as a
  repository policy allowing the pull actions to `*`, so the pulling role's own policy decides.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
BOOTSTRAP_TEMPLATE = REPO / "node_modules" / "aws-cdk" / "lib" / "api" / "bootstrap" / "bootstrap-template.yaml"
BOOTSTRAP_QUALIFIER = "hnb659fds"
ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def bootstrap_bucket_name(account: str, region: str) -> str:
    return f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{region}"


def bootstrap_bucket_policy(account: str, region: str) -> dict[str, Any]:
    """The StagingBucketPolicy of the pinned CLI's bootstrap template, with its `Fn::Sub`s resolved."""
    template = yaml.safe_load(BOOTSTRAP_TEMPLATE.read_text())
    document = template["Resources"]["StagingBucketPolicy"]["Properties"]["PolicyDocument"]
    arn = f"arn:aws:s3:::{bootstrap_bucket_name(account, region)}"

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
            return value["Fn::Sub"].replace("${StagingBucket.Arn}", arn)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items() if k != "Id"}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value
    return resolve(document)


def aws_managed_s3_key_arn(account: str, region: str) -> str:
    return f"arn:aws:kms:{region}:{account}:alias/aws/s3"


def aws_managed_s3_key_policy(account: str, region: str) -> dict[str, Any]:
    """The key policy AWS gives `aws/s3`: use through S3 by the account's principals."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
         "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"s3.{region}.amazonaws.com"}}},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"}]}


def aws_image_repository_policy(repository_arn: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ECR_PULL, "Resource": repository_arn}]}


# AWS managed policies the templates attach, as the IAM console's policy page shows their current version.
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"}]},
}
