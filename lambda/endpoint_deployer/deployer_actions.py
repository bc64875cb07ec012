"""SageMaker calls of one deployment: approved package -> model -> endpoint config -> endpoint.

Each step is idempotent: names derive from content (a repeated event finds the model and the
endpoint configuration it created before), and an endpoint already on the wanted configuration is
left alone. Endpoint configurations are named from a hash of their content, so an update never
collides with the configuration the endpoint is running.
"""
from __future__ import annotations

import hashlib
import json

from botocore.exceptions import ClientError

from deployer_archive import stage_archive
from deployer_settings import DeploymentError, Settings

BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed")


def content_name(prefix: str, content: object, *, max_length: int = 63) -> str:
    """`<prefix>-<12 hex of sha256(content)>`, cut to SageMaker's 63 characters."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{prefix[: max_length - 13]}-{digest}"


def _not_found(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return code in ("ResourceNotFound", "ValidationException") and (
        "not found" in message.lower() or "could not find" in message.lower() or "does not exist" in message.lower())


def approved_package(sm, settings: Settings, package_arn: str) -> dict:
    """The package, checked to be Approved and to belong to this environment's group."""
    try:
        package = sm.describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        if _not_found(error):
            raise DeploymentError(f"model package {package_arn} does not exist (deleted, or another account's "
                                  f"registry?); nothing deployed") from None
        raise
    if package.get("ModelPackageGroupName") != settings.model_package_group:
        raise DeploymentError(f"model package {package_arn} belongs to group {package.get('ModelPackageGroupName')!r}, "
                              f"not {settings.model_package_group!r}; nothing deployed")
    if package.get("ModelApprovalStatus") != "Approved":
        raise DeploymentError(f"model package {package_arn} is {package.get('ModelApprovalStatus')}, not Approved; "
                              "approve it in the model registry first")
    return package


def latest_approved_package_arn(sm, group: str) -> str:
    """The newest Approved package of `group`; an empty registry is a clear error, not an IndexError."""
    try:
        listing = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved",
                                         SortBy="CreationTime", SortOrder="Descending", MaxResults=1)
    except ClientError as error:
        if _not_found(error):
            raise DeploymentError(f"model package group {group!r} does not exist yet: no model has been "
                                  "registered by the training pipeline; nothing deployed") from None
        raise
    summaries = listing.get("ModelPackageSummaryList", [])
    if not summaries:
        raise DeploymentError(f"model package group {group!r} has no Approved package (the registry is empty or "
                              "nothing is approved yet); nothing deployed")
    return summaries[0]["ModelPackageArn"]


def serving_environment(settings: Settings, package: dict) -> dict[str, str]:
    """The package container's environment plus `SAGEMAKER_REGION`, checked to start where it runs.

    A network-isolated model cannot download anything: script-mode code named by an S3
    `SAGEMAKER_SUBMIT_DIRECTORY` (packages registered before the code moved into model.tar.gz)
    would fail at container start, so such a package is refused here with the reason.
    """
    container = package["InferenceSpecification"]["Containers"][0]
    environment = dict(container.get("Environment") or {})
    submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if settings.in_vpc and submit.startswith("s3://"):
        raise DeploymentError(
            f"model package {package['ModelPackageArn']} reads its inference code from {submit}, which a "
            "network-isolated model cannot download; register a model whose archive carries code/ "
            "(SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code); nothing deployed")
    if settings.region:
        environment["SAGEMAKER_REGION"] = settings.region
    return environment


def model_request(settings: Settings, package: dict) -> dict:
    """CreateModel arguments: from the package, with the platform's role and network settings."""
    arn = package["ModelPackageArn"]
    if settings.multi_model_prefix:
        image = package["InferenceSpecification"]["Containers"][0]["Image"]
        container = {"Image": image, "ModelDataUrl": settings.multi_model_prefix, "Mode": "MultiModel"}
    else:
        # The package's image and archive, with its environment given explicitly (as the SDK's
        # ModelPackage does) so that SAGEMAKER_REGION is the region the model runs in.
        container = {"ModelPackageName": arn, "Environment": serving_environment(settings, package)}
    body: dict = {"PrimaryContainer": container, "ExecutionRoleArn": settings.execution_role_arn,
                  "EnableNetworkIsolation": settings.in_vpc}
    if settings.in_vpc:
        body["VpcConfig"] = {"Subnets": list(settings.subnet_ids),
                             "SecurityGroupIds": list(settings.security_group_ids)}
    name = content_name(f"{settings.endpoint_name}-model", body)
    return {"ModelName": name, **body, "Tags": [{"Key": "ModelPackageArn", "Value": arn}]}


def endpoint_config_request(settings: Settings, model_name: str) -> dict:
    """CreateEndpointConfig arguments, named from a hash of everything in them."""
    spec = settings.endpoint
    body: dict = {"ProductionVariants": [{**spec["ProductionVariant"], "ModelName": model_name}],
                  "KmsKeyId": spec["KmsKeyId"]}
    for optional in ("DataCaptureConfig", "AsyncInferenceConfig"):
        if optional in spec:
            body[optional] = spec[optional]
    return {"EndpointConfigName": content_name(f"{settings.endpoint_name}-config", body), **body}


def ensure_model(sm, request: dict) -> bool:
    """Create the model unless a model of that (content-derived) name exists; True if created."""
    try:
        sm.describe_model(ModelName=request["ModelName"])
        return False
    except ClientError as error:
        if not _not_found(error):
            raise
    sm.create_model(**request)
    return True


def ensure_endpoint_config(sm, request: dict) -> bool:
    try:
        sm.describe_endpoint_config(EndpointConfigName=request["EndpointConfigName"])
        return False
    except ClientError as error:
        if not _not_found(error):
            raise
    sm.create_endpoint_config(**request)
    return True


def roll_out(sm, settings: Settings, config_name: str) -> str:
    """Create the endpoint, or update it blue/green; 'created', 'updated' or 'unchanged'."""
    name = settings.endpoint_name
    try:
        endpoint = sm.describe_endpoint(EndpointName=name)
    except ClientError as error:
        if not _not_found(error):
            raise
        # A new endpoint has no old fleet to shift from: the deployment policy applies to updates.
        sm.create_endpoint(EndpointName=name, EndpointConfigName=config_name)
        return "created"
    if endpoint["EndpointConfigName"] == config_name:
        return "unchanged"
    status = endpoint["EndpointStatus"]
    if status in BUSY:
        # Raising makes EventBridge retry later (then the dead-letter queue keeps the event).
        raise DeploymentError(f"endpoint {name} is {status}; it cannot be updated now, retry when InService")
    if status == "Failed":
        raise DeploymentError(f"endpoint {name} is Failed ({endpoint.get('FailureReason', 'no reason given')}); "
                              "delete it, then re-send the approval event or invoke the deployer")
    sm.update_endpoint(EndpointName=name, EndpointConfigName=config_name, RetainAllVariantProperties=True,
                       DeploymentConfig=settings.endpoint["DeploymentConfig"])
    return "updated"


def deploy(sm, settings: Settings, package_arn: str, s3=None) -> dict:
    """Deploy one approved package; returns what was done, for the log and the caller.

    A multi-model endpoint loads archives from its prefix, so the package's archive is staged
    there (with `s3`) before the endpoint step.
    """
    package = approved_package(sm, settings, package_arn)
    staged = stage_archive(s3, settings, package) if settings.multi_model_prefix else {}
    model = model_request(settings, package)
    model_created = ensure_model(sm, model)
    config = endpoint_config_request(settings, model["ModelName"])
    config_created = ensure_endpoint_config(sm, config)
    action = roll_out(sm, settings, config["EndpointConfigName"])
    return {"action": action, "model_package_arn": package_arn, "model_name": model["ModelName"],
            "model_created": model_created, "endpoint_config_name": config["EndpointConfigName"],
            "endpoint_config_created": config_created, "endpoint_name": settings.endpoint_name, **staged}
