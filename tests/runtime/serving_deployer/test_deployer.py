"""The endpoint deployer on recorded EventBridge payloads, against real botocore clients with Stubber."""
from __future__ import annotations

import pytest
from deployer_testkit import NOW, PACKAGE_ARN, ROLE_ARN, not_found, package_description

ENDPOINT = "mlp-stg-endpoint"
ENDPOINT_ARN = f"arn:aws:sagemaker:eu-west-1:222222222222:endpoint/{ENDPOINT}"


def _expect_package(stub, **kwargs):
    stub.add_response("describe_model_package", package_description(**kwargs), {"ModelPackageName": PACKAGE_ARN})


def _endpoint(config_name: str, status: str = "InService") -> dict:
    return {"EndpointName": ENDPOINT, "EndpointArn": ENDPOINT_ARN, "EndpointConfigName": config_name,
            "EndpointStatus": status, "CreationTime": NOW, "LastModifiedTime": NOW}


def _names(settings):
    from deployer_actions import endpoint_config_request, model_request
    model = model_request(settings, package_description())
    return model, endpoint_config_request(settings, model["ModelName"])


def test_approval_creates_model_config_and_endpoint_when_none_exists(handler_module, settings, sagemaker, load_event):
    # GIVEN an approval event for the staging group and no endpoint yet
    client, stub = sagemaker
    model, config = _names(settings)
    _expect_package(stub)
    not_found(stub, "describe_model", f'Could not find model "{model["ModelName"]}".', {"ModelName": model["ModelName"]})
    stub.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:eu-west-1:222222222222:model/{model['ModelName']}"},
                      model)
    not_found(stub, "describe_endpoint_config", "Could not find endpoint configuration",
              {"EndpointConfigName": config["EndpointConfigName"]})
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:222222222222:"
                                                 f"endpoint-config/{config['EndpointConfigName']}"}, config)
    not_found(stub, "describe_endpoint", f"Could not find endpoint {ENDPOINT}.", {"EndpointName": ENDPOINT})
    stub.add_response("create_endpoint", {"EndpointArn": ENDPOINT_ARN},
                      {"EndpointName": ENDPOINT, "EndpointConfigName": config["EndpointConfigName"]})
    # WHEN the deployer handles it
    result = handler_module.handle(load_event("model_package_approved.json"), settings, client)
    # THEN the model comes from the package, in the VPC with isolation, and the endpoint is created
    assert result["action"] == "created" and result["model_created"] and result["endpoint_config_created"]
    assert model["PrimaryContainer"] == {"ModelPackageName": PACKAGE_ARN, "Environment": {
        "SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_REGION": "eu-west-1"}}
    assert model["ExecutionRoleArn"] == ROLE_ARN and model["EnableNetworkIsolation"] is True
    assert model["VpcConfig"]["Subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"]
    assert config["KmsKeyId"].startswith("arn:aws:kms:") and config["DataCaptureConfig"]["KmsKeyId"] == config["KmsKeyId"]
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    assert config["ProductionVariants"][0]["ModelName"] == model["ModelName"]


def test_approval_updates_running_endpoint_blue_green_and_retains_variant_properties(
        handler_module, settings, sagemaker, load_event):
    # GIVEN an endpoint in service on an older configuration, model and config already created by a retry
    client, stub = sagemaker
    model, config = _names(settings)
    _expect_package(stub)
    stub.add_response("describe_model", {"ModelName": model["ModelName"], "ExecutionRoleArn": ROLE_ARN,
                                         "CreationTime": NOW, "ModelArn": "arn:aws:sagemaker:eu-west-1:"
                                         f"222222222222:model/{model['ModelName']}"}, {"ModelName": model["ModelName"]})
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": config["EndpointConfigName"], "CreationTime": NOW,
        "EndpointConfigArn": f"arn:aws:sagemaker:eu-west-1:222222222222:endpoint-config/{config['EndpointConfigName']}",
        "ProductionVariants": config["ProductionVariants"]}, {"EndpointConfigName": config["EndpointConfigName"]})
    stub.add_response("describe_endpoint", _endpoint("mlp-stg-endpoint-config-000000000000"), {"EndpointName": ENDPOINT})
    stub.add_response("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, {
        "EndpointName": ENDPOINT, "EndpointConfigName": config["EndpointConfigName"],
        "RetainAllVariantProperties": True, "DeploymentConfig": settings.endpoint["DeploymentConfig"]})
    # WHEN the approval arrives
    result = handler_module.handle(load_event("model_package_approved.json"), settings, client)
    # THEN the endpoint is updated with the canary policy and the rollback alarms, nothing re-created
    assert result["action"] == "updated"
    assert not result["model_created"] and not result["endpoint_config_created"]
    policy = settings.endpoint["DeploymentConfig"]
    assert policy["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"  # staging: one instance, so all at once (issue 9 defect 11)
    assert [a["AlarmName"] for a in policy["AutoRollbackConfiguration"]["Alarms"]] == [
        "mlp-stg-endpoint-5xx-errors", "mlp-stg-endpoint-model-latency"]


def test_repeated_event_leaves_endpoint_on_same_config_alone(handler_module, settings, sagemaker, load_event):
    client, stub = sagemaker
    model, config = _names(settings)
    _expect_package(stub)
    stub.add_response("describe_model", {"ModelName": model["ModelName"], "CreationTime": NOW,
                                         "ModelArn": "arn:aws:sagemaker:eu-west-1:222222222222:model/m"})
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": config["EndpointConfigName"], "CreationTime": NOW,
        "EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint-config/c",
        "ProductionVariants": config["ProductionVariants"]})
    stub.add_response("describe_endpoint", _endpoint(config["EndpointConfigName"]))
    assert handler_module.handle(load_event("model_package_approved.json"), settings, client)["action"] == "unchanged"


@pytest.mark.parametrize("fixture", ["model_package_pending.json", "model_package_rejected.json"])
def test_non_approved_packages_are_ignored_without_any_call(handler_module, settings, sagemaker, load_event, fixture):
    client, _ = sagemaker  # the stub has no responses: any SageMaker call would fail the test
    result = handler_module.handle(load_event(fixture), settings, client)
    assert result["action"] == "ignored"


def test_other_groups_are_ignored(handler_module, settings, sagemaker, load_event):
    client, _ = sagemaker
    event = load_event("model_package_approved.json")
    event["detail"]["ModelPackageGroupName"] = "someone-elses-models"
    assert handler_module.handle(event, settings, client)["action"] == "ignored"


def test_missing_package_is_a_clear_error(handler_module, settings, sagemaker, load_event):
    from deployer_settings import DeploymentError
    client, stub = sagemaker
    not_found(stub, "describe_model_package", f"ModelPackage {PACKAGE_ARN} does not exist.",
              {"ModelPackageName": PACKAGE_ARN})
    with pytest.raises(DeploymentError, match="does not exist .*nothing deployed"):
        handler_module.handle(load_event("model_package_approved.json"), settings, client)


def test_package_no_longer_approved_is_refused(handler_module, settings, sagemaker, load_event):
    from deployer_settings import DeploymentError
    client, stub = sagemaker
    _expect_package(stub, status="Rejected")  # approval revoked between the event and the call
    with pytest.raises(DeploymentError, match="is Rejected, not Approved"):
        handler_module.handle(load_event("model_package_approved.json"), settings, client)


def test_deploy_latest_with_empty_registry_is_a_clear_error(handler_module, settings, sagemaker):
    from deployer_settings import DeploymentError
    client, stub = sagemaker
    stub.add_response("list_model_packages", {"ModelPackageSummaryList": []}, {
        "ModelPackageGroupName": "mlp-stg-models", "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1})
    with pytest.raises(DeploymentError, match="has no Approved package .*nothing deployed"):
        handler_module.handle({"action": "deploy-latest"}, settings, client)


def test_deploy_latest_when_group_was_never_created(handler_module, settings, sagemaker):
    from deployer_settings import DeploymentError
    client, stub = sagemaker
    not_found(stub, "list_model_packages", "Model Package Group mlp-stg-models does not exist.", {
        "ModelPackageGroupName": "mlp-stg-models", "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1})
    with pytest.raises(DeploymentError, match="does not exist yet"):
        handler_module.handle({"action": "deploy-latest"}, settings, client)


def test_busy_endpoint_raises_so_eventbridge_retries(handler_module, settings, sagemaker, load_event):
    from deployer_settings import DeploymentError
    client, stub = sagemaker
    _expect_package(stub)
    stub.add_response("describe_model", {"ModelName": "m", "CreationTime": NOW,
                                         "ModelArn": "arn:aws:sagemaker:eu-west-1:222222222222:model/m"})
    stub.add_response("describe_endpoint_config", {"EndpointConfigName": "c", "CreationTime": NOW,
                                                   "EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:222222222222:"
                                                   "endpoint-config/c",
                                                   "ProductionVariants": _names(settings)[1]["ProductionVariants"]})
    stub.add_response("describe_endpoint", _endpoint("mlp-stg-endpoint-config-000000000000", status="Updating"))
    with pytest.raises(DeploymentError, match="is Updating"):
        handler_module.handle(load_event("model_package_approved.json"), settings, client)


def test_in_service_event_registers_autoscaling(handler_module, settings, sagemaker, autoscaling, cloudwatch,
                                                load_event):
    aas, stub = autoscaling
    doc = settings.scaling
    stub.add_response("register_scalable_target", {}, doc["Target"])
    stub.add_response("put_scaling_policy", {"PolicyARN": "arn:aws:autoscaling:eu-west-1:222222222222:"
                                             "scalingPolicy:1:resource/sagemaker/x:policyName/tt", "Alarms": []},
                      doc["Policies"][0])
    # Staging scales down off hours (config/staging.yaml endpoint.off_hours): both scheduled actions,
    # each validated by Stubber against botocore's PutScheduledAction model (Timezone included).
    for action in doc["ScheduledActions"]:
        stub.add_response("put_scheduled_action", {}, action)
    result = handler_module.handle(load_event("endpoint_in_service.json"), settings, sagemaker[0], aas, cloudwatch[0])
    assert result == {"action": "scaling-registered", "resource_id": "endpoint/mlp-stg-endpoint/variant/AllTraffic",
                      "policies": ["mlp-stg-endpoint-target-tracking"],
                      "scheduled_actions": ["mlp-stg-endpoint-off-hours", "mlp-stg-endpoint-working-hours"]}
    assert doc["Target"]["MinCapacity"] == 1 and doc["Target"]["MaxCapacity"] == 2
    off_hours = next(a for a in doc["ScheduledActions"] if a["ScheduledActionName"].endswith("-off-hours"))
    assert off_hours["Timezone"] == "Europe/Dublin"
    assert off_hours["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 1}


def test_async_endpoint_gets_step_policy_alarm_for_scale_from_zero(handler_module, env, sagemaker, autoscaling,
                                                                   cloudwatch, load_event):
    import json

    from deployer_testkit import scaling_document

    from deployer_settings import settings_from
    settings = settings_from({**env, "SCALING_SPEC": json.dumps(scaling_document(asynchronous=True))})
    aas, stub = autoscaling
    cw, cw_stub = cloudwatch
    step_arn = "arn:aws:autoscaling:eu-west-1:222222222222:scalingPolicy:2:resource/sagemaker/x:policyName/step"
    stub.add_response("register_scalable_target", {}, settings.scaling["Target"])
    stub.add_response("put_scaling_policy", {"PolicyARN": "arn:tt", "Alarms": []}, settings.scaling["Policies"][0])
    stub.add_response("put_scaling_policy", {"PolicyARN": step_arn}, settings.scaling["Policies"][1])
    cw_stub.add_response("put_metric_alarm", {}, {**settings.scaling["StepAlarm"], "AlarmActions": [step_arn]})
    for action in settings.scaling["ScheduledActions"]:
        stub.add_response("put_scheduled_action", {}, action)
    result = handler_module.handle(load_event("endpoint_in_service.json"), settings, sagemaker[0], aas, cw)
    # With off-hours scaling the async variant keeps min_instances in working hours and goes to zero outside.
    assert settings.scaling["Target"]["MinCapacity"] == 1
    off_hours = next(a for a in settings.scaling["ScheduledActions"] if a["ScheduledActionName"].endswith("-off-hours"))
    assert off_hours["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 2}
    assert result["policies"] == ["mlp-stg-endpoint-backlog-without-capacity", "mlp-stg-endpoint-target-tracking"]


def test_async_endpoint_without_off_hours_may_scale_to_zero_at_any_time(handler_module, env, sagemaker, autoscaling,
                                                                        cloudwatch, load_event):
    import json

    from deployer_testkit import staging_spec

    from deployer_settings import settings_from
    spec = staging_spec("async", off_hours=None)
    settings = settings_from({**env, "SCALING_SPEC": json.dumps(spec.scaling_document())})
    aas, stub = autoscaling
    cw, cw_stub = cloudwatch
    stub.add_response("register_scalable_target", {}, settings.scaling["Target"])
    stub.add_response("put_scaling_policy", {"PolicyARN": "arn:tt", "Alarms": []}, settings.scaling["Policies"][0])
    stub.add_response("put_scaling_policy", {"PolicyARN": "arn:step"}, settings.scaling["Policies"][1])
    cw_stub.add_response("put_metric_alarm", {}, {**settings.scaling["StepAlarm"], "AlarmActions": ["arn:step"]})
    result = handler_module.handle(load_event("endpoint_in_service.json"), settings, sagemaker[0], aas, cw)
    assert settings.scaling["Target"]["MinCapacity"] == 0 and settings.scaling["ScheduledActions"] == []
    assert result["scheduled_actions"] == []


def test_state_change_of_another_endpoint_is_ignored(handler_module, settings, sagemaker, load_event):
    event = load_event("endpoint_in_service.json")
    event["detail"]["EndpointName"] = "someone-elses-endpoint"
    assert handler_module.handle(event, settings, sagemaker[0])["action"] == "ignored"


def test_content_names_change_with_content_and_fit_sagemaker_limit():
    from deployer_actions import content_name
    a = content_name("x" * 80, {"a": 1})
    assert len(a) == 63 and a == content_name("x" * 80, {"a": 1}) != content_name("x" * 80, {"a": 2})


def test_missing_environment_is_reported_by_name():
    from deployer_settings import DeploymentError, settings_from
    with pytest.raises(DeploymentError, match="MODEL_PACKAGE_GROUP"):
        settings_from({"ENDPOINT_SPEC": "{}", "EXECUTION_ROLE_ARN": ROLE_ARN})


def test_unknown_event_is_rejected(handler_module, settings, sagemaker):
    from deployer_settings import DeploymentError
    with pytest.raises(DeploymentError, match="unrecognised event"):
        handler_module.handle({"detail-type": "Something Else", "detail": {}}, settings, sagemaker[0])
