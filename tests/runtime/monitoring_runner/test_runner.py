"""The monitoring function on recorded-shape events: starting a network-isolated monitoring job on
the deployed model's baseline, skipping what cannot run yet, and publishing metrics of both engines."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY
from runner_testkit import ACCOUNT, BUCKET, KEY, REGION

NOW = datetime(2026, 12, 1, 21, 4, 12, tzinfo=timezone.utc)
ENDPOINT = "mlp-dev-endpoint"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/mlp-dev-models/7"
BASELINE = f"s3://{BUCKET}/pipelines/mlp-dev-training/exec-1/baseline"


def _deployed(sagemaker_stub, *, tags=None, baselines=True):
    sagemaker_stub.add_response("describe_endpoint", {
        "EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}",
        "EndpointConfigName": "mlp-dev-endpoint-cfg-1a2b3c", "EndpointStatus": "InService",
        "CreationTime": NOW, "LastModifiedTime": NOW}, {"EndpointName": ENDPOINT})
    sagemaker_stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": "mlp-dev-endpoint-cfg-1a2b3c", "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/x",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "mlp-dev-model-9f8e7d"}], "CreationTime": NOW},
        {"EndpointConfigName": "mlp-dev-endpoint-cfg-1a2b3c"})
    model_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/mlp-dev-model-9f8e7d"
    sagemaker_stub.add_response("describe_model", {"ModelName": "mlp-dev-model-9f8e7d", "ModelArn": model_arn,
                                                   "CreationTime": NOW}, {"ModelName": "mlp-dev-model-9f8e7d"})
    sagemaker_stub.add_response("list_tags", {"Tags": tags if tags is not None else [
        {"Key": "ModelPackageArn", "Value": PACKAGE}]}, {"ResourceArn": model_arn})
    if tags == []:
        return
    package = {"ModelPackageName": "mlp-dev-models", "ModelPackageArn": PACKAGE, "CreationTime": NOW,
               "ModelPackageStatus": "Completed", "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []}}
    if baselines:
        package["DriftCheckBaselines"] = {"ModelDataQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/statistics.json"},
            "Constraints": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/constraints.json"}}}
    sagemaker_stub.add_response("describe_model_package", package, {"ModelPackageName": PACKAGE})


def _listing(s3_stub, prefix, keys):
    s3_stub.add_response("list_objects_v2", {"Contents": [{"Key": k, "Size": 100} for k in keys], "KeyCount": len(keys),
                                             "IsTruncated": False}, {"Bucket": BUCKET, "Prefix": prefix})


def test_scheduled_run_starts_an_isolated_job_on_the_deployed_models_baseline(handler_module, env, clients):
    (sm, s3, cw), (sm_stub, s3_stub, _) = clients
    _deployed(sm_stub)
    # GIVEN captures in the window (20:00-21:00) and the lookback hour, labels collected in the window
    cap = "data-capture/mlp-dev-endpoint/AllTraffic"
    _listing(s3_stub, "monitoring/ground-truth/mlp-dev-endpoint/2026/12/01/20/",
             ["monitoring/ground-truth/mlp-dev-endpoint/2026/12/01/20/labels.jsonl"])
    _listing(s3_stub, f"{cap}/2026/12/01/19/", [f"{cap}/2026/12/01/19/05-00-000-a.jsonl"])  # lookback: labels exist
    _listing(s3_stub, f"{cap}/2026/12/01/20/", [f"{cap}/2026/12/01/20/05-00-000-b.jsonl", f"{cap}/2026/12/01/20/35-00-000-c.jsonl"])
    manifests = "monitoring/reports/mlp-dev-endpoint/manifests/mlp-dev-monitor-202612012100"
    s3_stub.add_response("put_object", {}, {"Bucket": BUCKET, "Key": f"{manifests}/capture.json", "Body": ANY,
                                            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY})
    s3_stub.add_response("put_object", {}, {"Bucket": BUCKET, "Key": f"{manifests}/labels.json", "Body": ANY,
                                            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY})
    from runner_jobs import job_request
    settings = handler_module.settings_from(env)
    job = job_request(settings, name="mlp-dev-monitor-202612012100", endpoint=ENDPOINT, baseline_uri=BASELINE,
                      capture_manifest=f"s3://{BUCKET}/{manifests}/capture.json",
                      labels_manifest=f"s3://{BUCKET}/{manifests}/labels.json",
                      since=datetime(2026, 12, 1, 20, tzinfo=timezone.utc), until=datetime(2026, 12, 1, 21, tzinfo=timezone.utc))
    sm_stub.add_response("create_processing_job", {"ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/x"}, job)
    result = handler_module.handle({"action": "monitor", "endpoint": ENDPOINT}, settings, sm, s3, cw, now=NOW)
    assert result == {"action": "started", "job": "mlp-dev-monitor-202612012100", "model_package": PACKAGE,
                      "captures": 3, "labels": 1}
    # THEN the job request sent is isolated, encrypted, in the VPC, on the window's manifests
    assert job["NetworkConfig"] == {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True,
                                    "VpcConfig": {"Subnets": ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"],
                                                  "SecurityGroupIds": ["sg-0123456789abcdef0"]}}
    assert job["ProcessingOutputConfig"]["KmsKeyId"] == KEY == job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["capture"]["S3DataType"] == "ManifestFile" and inputs["baseline"]["S3Uri"] == BASELINE + "/"
    args = job["AppSpecification"]["ContainerArguments"]
    assert args[args.index("--since") + 1] == "2026-12-01T20:00:00+00:00" and "--labels-dir" in args
    assert "exec python3 /opt/ml/processing/code/monitor.py" in job["AppSpecification"]["ContainerEntrypoint"][2]


def test_the_job_request_is_valid_for_botocore(env):
    import boto3
    from botocore.validate import validate_parameters

    from runner_jobs import job_request
    from runner_settings import settings_from
    model = boto3.client("sagemaker", region_name=REGION).meta.service_model
    job = job_request(settings_from(env), name="mlp-dev-monitor-202612012100", endpoint=ENDPOINT, baseline_uri=BASELINE,
                      capture_manifest=f"s3://{BUCKET}/m/capture.json", labels_manifest=None,
                      since=NOW, until=NOW)
    validate_parameters(job, model.operation_model("CreateProcessingJob").input_shape)


def test_nothing_deployed_yet_is_skipped_not_failed(handler_module, env, clients):
    (sm, s3, cw), (sm_stub, _, _) = clients
    sm_stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint", 400)
    result = handler_module.handle({"action": "monitor", "endpoint": ENDPOINT}, handler_module.settings_from(env),
                                   sm, s3, cw, now=NOW)
    assert result["action"] == "skipped" and "does not exist yet" in result["reason"]


def test_a_window_without_capture_is_skipped(handler_module, env, clients):
    (sm, s3, cw), (sm_stub, s3_stub, _) = clients
    _deployed(sm_stub)
    _listing(s3_stub, "monitoring/ground-truth/mlp-dev-endpoint/2026/12/01/20/", [])
    _listing(s3_stub, "data-capture/mlp-dev-endpoint/AllTraffic/2026/12/01/20/", [])  # no labels: no lookback
    result = handler_module.handle({"action": "monitor", "endpoint": ENDPOINT}, handler_module.settings_from(env),
                                   sm, s3, cw, now=NOW)
    assert result["action"] == "skipped" and "no data capture" in result["reason"]


@pytest.mark.parametrize("tags, baselines, message", [
    ([], True, "has no ModelPackageArn tag"), (None, False, "has no data-quality drift-check baseline")])
def test_a_model_without_a_known_baseline_is_a_clear_error(handler_module, env, clients, tags, baselines, message):
    (sm, s3, cw), (sm_stub, _, _) = clients
    _deployed(sm_stub, tags=tags, baselines=baselines)
    with pytest.raises(handler_module.MonitoringError, match=message):
        handler_module.handle({"action": "monitor", "endpoint": ENDPOINT}, handler_module.settings_from(env),
                              sm, s3, cw, now=NOW)


def _body(document: dict) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_our_completed_job_publishes_the_metrics_file_it_wrote(handler_module, env, clients, load_event):
    (sm, s3, cw), (sm_stub, s3_stub, cw_stub) = clients
    event = load_event("processing_job_monitor_completed.json")
    name = event["detail"]["ProcessingJobName"]
    sm_stub.add_response("describe_processing_job", {**_job(name), "Environment": {"MONITORED_ENDPOINT": ENDPOINT}},
                         {"ProcessingJobName": name})
    metrics = {"Namespace": "MLPlatform/ModelMonitoring", "MetricData": [
        {"MetricName": "DriftedFeatures", "Dimensions": [{"Name": "Endpoint", "Value": ENDPOINT}],
         "Timestamp": "2026-12-01T21:00:00+00:00", "Value": 1.0, "Unit": "Count"}]}
    out = f"monitoring/reports/mlp-dev-endpoint/{name}"
    s3_stub.add_response("get_object", {"Body": _body(metrics)}, {"Bucket": BUCKET, "Key": f"{out}/cloudwatch_metrics.json"})
    cw_stub.add_response("put_metric_data", {}, {"Namespace": "MLPlatform/ModelMonitoring", "MetricData": [
        {**metrics["MetricData"][0], "Timestamp": datetime(2026, 12, 1, 21, tzinfo=timezone.utc)}]})
    result = handler_module.handle(event, handler_module.settings_from(env), sm, s3, cw)
    assert result["action"] == "published" and result["metrics"] == 1


def _job(name: str) -> dict:
    return {"ProcessingJobName": name, "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{name}",
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}},
            "AppSpecification": {"ImageUri": "image"}, "ProcessingJobStatus": "Completed", "CreationTime": NOW}


def test_a_model_monitor_execution_gets_the_same_endpoint_metrics(handler_module, env, clients, load_event):
    (sm, s3, cw), (sm_stub, s3_stub, cw_stub) = clients
    event = load_event("processing_job_model_monitor_completed.json")
    name = event["detail"]["ProcessingJobName"]
    sm_stub.add_response("describe_processing_job", {**_job(name), "Environment": {
        "sagemaker_endpoint_name": ENDPOINT, "sagemaker_monitoring_schedule_name": "mlp-dev-dq-1a2b"}},
        {"ProcessingJobName": name})
    out = "monitoring/model-monitor/mlp-dev-endpoint/data-quality/2026/12/01/21"
    s3_stub.add_client_error("get_object", "NoSuchKey", "missing", 404, expected_params={
        "Bucket": BUCKET, "Key": f"{out}/cloudwatch_metrics.json"})
    violations = {"violations": [
        {"feature_name": "_c3", "constraint_check_type": "baseline_drift_check", "description": "d"},
        {"feature_name": "_c3", "constraint_check_type": "data_type_check", "description": "t"},
        {"feature_name": "_c5", "constraint_check_type": "baseline_drift_check", "description": "d"}]}
    s3_stub.add_response("get_object", {"Body": _body(violations)}, {"Bucket": BUCKET, "Key": f"{out}/constraint_violations.json"})
    dims = [{"Name": "Endpoint", "Value": ENDPOINT}]
    when = datetime.fromtimestamp(event["detail"]["ProcessingEndTime"] / 1000, timezone.utc)
    cw_stub.add_response("put_metric_data", {}, {"Namespace": "MLPlatform/ModelMonitoring", "MetricData": [
        {"MetricName": "Violations", "Dimensions": dims, "Timestamp": when, "Value": 3.0, "Unit": "Count"},
        {"MetricName": "DriftedFeatures", "Dimensions": dims, "Timestamp": when, "Value": 2.0, "Unit": "Count"},
        {"MetricName": "ModelQualityViolations", "Dimensions": dims, "Timestamp": when, "Value": 0.0, "Unit": "Count"}]})
    assert handler_module.handle(event, handler_module.settings_from(env), sm, s3, cw)["action"] == "published"


def test_failed_and_unrelated_jobs_are_ignored(handler_module, env, clients, load_event):
    (sm, s3, cw), (sm_stub, _, _) = clients
    failed = load_event("processing_job_monitor_completed.json")
    failed["detail"]["ProcessingJobStatus"] = "Failed"
    assert handler_module.handle(failed, handler_module.settings_from(env), sm, s3, cw)["action"] == "ignored"
    other = load_event("processing_job_model_monitor_completed.json")
    sm_stub.add_response("describe_processing_job", _job(other["detail"]["ProcessingJobName"]),
                         {"ProcessingJobName": other["detail"]["ProcessingJobName"]})
    assert handler_module.handle(other, handler_module.settings_from(env), sm, s3, cw)["action"] == "ignored"


def test_missing_settings_name_every_variable(handler_module):
    with pytest.raises(handler_module.MonitoringError, match="ROLE_ARN"):
        handler_module.settings_from({"JOB_PREFIX": "x"})


def _model_monitor_env(env: dict) -> dict:
    target = f"s3://{BUCKET}/monitoring/model-monitor/{ENDPOINT}/baseline"
    schedules = [{"name": "mlp-dev-endpoint-data-quality", "definition": "mlp-dev-dq-3f2a1b0c", "type": "DataQuality",
                  "cron": "cron(0 * ? * * *)"},
                 {"name": "mlp-dev-endpoint-model-quality", "definition": "mlp-dev-mq-9e8d7c6b", "type": "ModelQuality",
                  "cron": "cron(0 * ? * * *)"}]
    clarify = {f"s3://{BUCKET}/monitoring/model-monitor/{ENDPOINT}/clarify/explainability.json": {
        "version": "1.0", "predictor": {"model_name": "{{deployed_model_name}}", "instance_type": "ml.m5.large"}}}
    watched = {"baseline": target, "schedules": schedules, "clarify": clarify}
    return {**env, "MODEL_MONITOR": json.dumps({ENDPOINT: watched})}, target, schedules


def test_a_deployment_points_model_monitor_schedules_at_the_new_models_baseline(handler_module, env, clients, load_event):
    (sm, s3, cw), (sm_stub, s3_stub, _) = clients
    env, target, schedules = _model_monitor_env(env)
    event = load_event("endpoint_in_service.json")
    event["detail"]["EndpointName"] = ENDPOINT
    _deployed(sm_stub)
    base_key, target_key = BASELINE.split(f"{BUCKET}/")[1], target.split(f"{BUCKET}/")[1]
    for name in ("statistics.json", "constraints.json"):
        s3_stub.add_response("copy_object", {}, {"Bucket": BUCKET, "Key": f"{target_key}/{name}",
                                                 "CopySource": {"Bucket": BUCKET, "Key": f"{base_key}/{name}"},
                                                 "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY})
    s3_stub.add_client_error("copy_object", "NoSuchKey", "missing", 404)
    # THEN the Clarify configuration names the model the endpoint now serves
    s3_stub.add_response("put_object", {}, {
        "Bucket": BUCKET, "Key": f"monitoring/model-monitor/{ENDPOINT}/clarify/explainability.json",
        "Body": json.dumps({"version": "1.0", "predictor": {"model_name": "mlp-dev-model-9f8e7d",
                                                            "instance_type": "ml.m5.large"}}).encode(),
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY})
    # GIVEN the data-quality schedule does not exist and the model-quality one runs an older definition
    sm_stub.add_client_error("describe_monitoring_schedule", "ResourceNotFound", "no", 400,
                             expected_params={"MonitoringScheduleName": schedules[0]["name"]})
    sm_stub.add_response("create_monitoring_schedule", {"MonitoringScheduleArn": "arn:x"}, {
        "MonitoringScheduleName": schedules[0]["name"], "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": "mlp-dev-dq-3f2a1b0c", "MonitoringType": "DataQuality"}})
    sm_stub.add_response("describe_monitoring_schedule", {
        "MonitoringScheduleArn": "arn:y", "MonitoringScheduleName": schedules[1]["name"], "MonitoringScheduleStatus": "Scheduled",
        "CreationTime": NOW, "LastModifiedTime": NOW, "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}, "MonitoringJobDefinitionName": "mlp-dev-mq-old",
            "MonitoringType": "ModelQuality"}}, {"MonitoringScheduleName": schedules[1]["name"]})
    sm_stub.add_response("update_monitoring_schedule", {"MonitoringScheduleArn": "arn:y"}, {
        "MonitoringScheduleName": schedules[1]["name"], "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinitionName": "mlp-dev-mq-9e8d7c6b", "MonitoringType": "ModelQuality"}})
    result = handler_module.handle(event, handler_module.settings_from(env), sm, s3, cw)
    assert result == {"action": "scheduled", "model_package": PACKAGE, "baseline": ["statistics.json", "constraints.json"],
                      "clarify": [f"s3://{BUCKET}/monitoring/model-monitor/{ENDPOINT}/clarify/explainability.json"],
                      "schedules": {schedules[0]["name"]: "created", schedules[1]["name"]: "updated"}}


def test_endpoints_our_engine_monitors_need_nothing_on_deployment(handler_module, env, clients, load_event):
    (sm, s3, cw), _ = clients
    event = load_event("endpoint_in_service.json")
    assert handler_module.handle(event, handler_module.settings_from(env), sm, s3, cw)["action"] == "ignored"
