"""Start one monitoring job: find the deployed model's baseline, list the window's capture and
ground-truth objects into manifests, and create the processing job (network-isolated: SageMaker
downloads every input and uploads the report; the container calls nothing)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from runner_settings import MonitoringError, Settings

CODE_DIR, ROOT = "/opt/ml/processing/code", "/opt/ml/processing"


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass(frozen=True)
class Deployed:
    """What an endpoint serves: its model, the model's package and the package's baseline folder."""

    package_arn: str
    baseline_uri: str
    variant: str
    model_name: str


def deployed_baseline(sm, endpoint: str) -> Deployed | None:
    """The model the endpoint serves and its baseline; None if the
    endpoint does not exist yet. The deployer tags every model with its `ModelPackageArn`; the
    package's `DriftCheckBaselines` name the baseline step's statistics and constraints."""
    try:
        config_name = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException":
            return None
        raise
    variant = sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"][0]
    model_arn = sm.describe_model(ModelName=variant["ModelName"])["ModelArn"]
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=model_arn).get("Tags", [])}
    package_arn = tags.get("ModelPackageArn")
    if not package_arn:
        raise MonitoringError(f"model {variant['ModelName']} of endpoint {endpoint} has no ModelPackageArn tag; "
                              "deploy it with the platform's deployer")
    package = sm.describe_model_package(ModelPackageName=package_arn)
    try:
        statistics = package["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    except KeyError:
        raise MonitoringError(f"model package {package_arn} has no data-quality drift-check baseline; "
                              "it was registered before the baseline step existed") from None
    return Deployed(package_arn, statistics.rsplit("/", 1)[0], variant["VariantName"], variant["ModelName"])


def list_hours(s3, uri: str, start: datetime, end: datetime) -> list[str]:
    """Keys of every object under `uri/yyyy/mm/dd/hh/` for the hours in [start, end)."""
    bucket, prefix = split_s3(uri)
    keys, hour = [], start.replace(minute=0, second=0, microsecond=0)
    paginator = s3.get_paginator("list_objects_v2")
    while hour < end:
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/{hour:%Y/%m/%d/%H}/"):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        hour += timedelta(hours=1)
    return keys


def write_manifest(s3, uri: str, keys: list[str], kms_key_arn: str) -> str:
    """A SageMaker manifest (`[{"prefix": "s3://bucket/"}, "key", ...]`) at `uri`; returns `uri`."""
    bucket, key = split_s3(uri)
    body = json.dumps([{"prefix": f"s3://{bucket}/"}, *keys]).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn)
    return uri


def _input(name: str, uri: str, local: str, kind: str = "S3Prefix") -> dict:
    return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": f"{ROOT}/{local}", "S3DataType": kind,
                                           "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}


def job_request(s: Settings, *, name: str, endpoint: str, baseline_uri: str, capture_manifest: str,
                labels_manifest: str | None, since: datetime, until: datetime) -> dict:
    """The CreateProcessingJob request of one run."""
    code_file = s.code_uri.rsplit("/", 1)[-1]
    unpack = (f"mkdir -p {CODE_DIR} && tar -xzf {ROOT}/input/code/{code_file} -C {CODE_DIR} "
              f"&& exec python3 {CODE_DIR}/monitor.py \"$@\"")
    args = ["--endpoint", endpoint, "--baseline-dir", f"{ROOT}/baseline", "--capture-dir", f"{ROOT}/capture",
            "--output-dir", f"{ROOT}/report", "--since", since.isoformat(), "--until", until.isoformat(), *s.arguments]
    inputs = [_input("code", s.code_uri, "input/code"), _input("baseline", baseline_uri + "/", "baseline"),
              _input("capture", capture_manifest, "capture", "ManifestFile")]
    if labels_manifest:
        inputs.append(_input("labels", labels_manifest, "labels", "ManifestFile"))
        args += ["--labels-dir", f"{ROOT}/labels"]
    return {
        "ProcessingJobName": name, "RoleArn": s.role_arn, "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"KmsKeyId": s.kms_key_arn, "Outputs": [{"OutputName": "report", "S3Output": {
            "S3Uri": f"{s.reports_s3_uri}/{endpoint}/{name}", "LocalPath": f"{ROOT}/report",
            "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": s.instance_type,
                                                  "VolumeSizeInGB": s.volume_size_gb, "VolumeKmsKeyId": s.kms_key_arn}},
        "StoppingCondition": {"MaxRuntimeInSeconds": s.max_runtime_s},
        "AppSpecification": {"ImageUri": s.image_uri, "ContainerEntrypoint": ["/bin/sh", "-c", unpack, "monitor.py"],
                             "ContainerArguments": args},
        "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True,
                          "VpcConfig": {"Subnets": list(s.subnet_ids), "SecurityGroupIds": list(s.security_group_ids)}},
        "Environment": {"MONITORED_ENDPOINT": endpoint},
        "Tags": [{"Key": "MonitoredEndpoint", "Value": endpoint}],
    }


def start_run(sm, s3, s: Settings, endpoint: str, now: datetime) -> dict:
    """Start the run for the window that ends at the top of the current hour."""
    until = now.replace(minute=0, second=0, microsecond=0)
    since = until - timedelta(hours=s.window_hours)
    found = deployed_baseline(sm, endpoint)
    if found is None:
        return {"action": "skipped", "reason": f"endpoint {endpoint} does not exist yet (nothing deployed)"}
    # Labels collected in this window belong to inferences up to label_lookback_hours older: only
    # then is older capture read (data quality still covers the window alone, via --since).
    labels = list_hours(s3, f"{s.labels_s3_uri}/{endpoint}", since, until)
    lookback = timedelta(hours=s.label_lookback_hours if labels else 0)
    captures = list_hours(s3, f"{s.capture_s3_uri}/{endpoint}/{found.variant}", since - lookback, until)
    if not captures:
        return {"action": "skipped", "reason": f"no data capture for {endpoint} between {since} and {until}"}
    name = f"{s.job_prefix}-{until:%Y%m%d%H%M}"[:63]
    manifests = f"{s.reports_s3_uri}/{endpoint}/manifests/{name}"
    capture_manifest = write_manifest(s3, f"{manifests}/capture.json", captures, s.kms_key_arn)
    labels_manifest = write_manifest(s3, f"{manifests}/labels.json", labels, s.kms_key_arn) if labels else None
    sm.create_processing_job(**job_request(s, name=name, endpoint=endpoint, baseline_uri=found.baseline_uri,
                                           capture_manifest=capture_manifest, labels_manifest=labels_manifest,
                                           since=since, until=until))
    return {"action": "started", "job": name, "model_package": found.package_arn, "captures": len(captures),
            "labels": len(labels)}
