"""Monitoring flows (staging and prod, the environments with a monitored endpoint): the monitoring
function (every boto3 call of its code: finding the deployed baseline, listing capture and labels,
writing manifests, starting our job with PassRole and the volume key, publishing metrics), the rules
invoking it, and our monitoring job's role while the job runs (code, baseline, capture, labels,
report with the models key, image, ENIs, volume key). The Model Monitor engine and the retraining
rule exist only when a config turns them on, so a staging stage with `engine: model_monitor` and
`retrain_on_drift: true` is synthesized here for their flows.

The job request is the one the function's own code builds (`runner_jobs.job_request`) from the
environment the template gives it, so the flow checks what would really be sent.
"""
from __future__ import annotations

import importlib
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import aws_cdk as cdk
import pytest
from flowcheck.build import load_platform
from flowcheck.calls import Call, assume, pass_role, s3_read, s3_write, volume_key_grant
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import LAMBDA_DIR, boto3_calls, functions, iam_actions
from flowcheck.policy import Principal
from flowcheck.sagemaker import SAGEMAKER, container_runtime_checks, processing_runtime, request_keys

from ml_platform.config import CONFIG_DIR, load_config
from ml_platform.stages.platform_stage import MlPlatformStage

MONITORED = ("staging", "prod")
# Calls of the code that only the Model Monitor engine makes (schedules, baseline copies).
MODEL_MONITOR_ONLY = {"sagemaker:describemonitoringschedule", "sagemaker:createmonitoringschedule",
                      "sagemaker:updatemonitoringschedule"}


def _runner_module(name: str):
    folder = str(LAMBDA_DIR / "monitoring_runner")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def _arn(platform, kind, name):
    return f"arn:aws:sagemaker:{platform.region}:{platform.account}:{kind}/{name}"


def runner_of(platform, assembly: Path):
    return functions(platform, assembly)["monitoring_runner"]


def one_run(runner):
    """The settings, endpoint, baseline and job request of one scheduled run, as the code builds them."""
    settings = _runner_module("runner_settings").settings_from(runner.environment)
    jobs = _runner_module("runner_jobs")
    endpoint = json.loads(runner_targets(runner)[0]["Input"])["endpoint"]  # the schedule rule's input
    bucket = settings.reports_s3_uri.removeprefix("s3://").split("/")[0]
    baseline = f"s3://{bucket}/pipelines/kytlemm1lvpq/Baseline/output/baseline"
    name = f"{settings.job_prefix}-202612010300"
    manifests = f"{settings.reports_s3_uri}/{endpoint}/manifests/{name}"
    until = datetime(2026, 12, 1, 3, tzinfo=timezone.utc)
    request = jobs.job_request(settings, name=name, endpoint=endpoint, baseline_uri=baseline,
                               capture_manifest=f"{manifests}/capture.json", labels_manifest=f"{manifests}/labels.json",
                               since=until.replace(hour=2), until=until)
    return settings, endpoint, baseline, request


_TARGETS: dict[str, list[dict]] = {}


def runner_targets(runner) -> list[dict]:
    return _TARGETS.get(runner.arn, [])


def _collect_targets(platform, runner) -> list[tuple[str, dict]]:
    stage, found = platform.stage, []
    for stack, logical_id, resource in stage.resources("AWS::Events::Rule"):
        for target in stage.properties(stack, resource).get("Targets", []):
            if target["Arn"] == runner.arn:
                found.append((stage.arn(stack, logical_id), target))
    _TARGETS[runner.arn] = [t for _, t in found if "Input" in t]
    return found


def runner_flow(platform, runner) -> Flow:
    """One scheduled run and one completed job's metrics, as the function's role."""
    settings, endpoint, _, request = one_run(runner)
    role, key = runner.role, settings.kms_key_arn
    bucket = settings.capture_s3_uri.removeprefix("s3://").split("/")[0]
    model = _arn(platform, "model", f"{endpoint}-model-0123456789ab")
    flow = Flow(f"monitoring function for {endpoint}").add(runner.runtime_checks(platform))
    flow.add(runner.dead_letter_checks(platform))
    flow.add([Call(role, "sagemaker:DescribeEndpoint", _arn(platform, "endpoint", endpoint)),
              Call(role, "sagemaker:DescribeEndpointConfig", _arn(platform, "endpoint-config",
                                                                   f"{endpoint}-config-0123456789ab")),
              Call(role, "sagemaker:DescribeModel", model), Call(role, "sagemaker:ListTags", model),
              Call(role, "sagemaker:DescribeModelPackage", _package(platform))])
    for prefix in (f"{settings.capture_s3_uri}/{endpoint}/AllTraffic/2026/12/01/02/",
                   f"{settings.labels_s3_uri}/{endpoint}/2026/12/01/02/"):
        flow.add([Call(role, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                       {"s3:prefix": prefix.split(f"{bucket}/", 1)[1]}, "list the window")])
    manifests = request["ProcessingInputs"][2]["S3Input"]["S3Uri"].rsplit("/", 1)[0] + "/"
    # Written with put_object (one part): no multipart upload to abort.
    flow.add(c for c in s3_write(platform, role, manifests, "capture and labels manifests", key)
             if c.action != "s3:AbortMultipartUpload")
    job = _arn(platform, "processing-job", request["ProcessingJobName"])
    flow.add([Call(role, "sagemaker:CreateProcessingJob", job, request_keys("Processing", request), "start the job"),
              Call(role, "sagemaker:AddTags", job, {}, "CreateProcessingJob with Tags"),
              pass_role(role, request["RoleArn"], SAGEMAKER, "the job's role"),
              volume_key_grant(role, request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"], "sagemaker",
                               "the job's volume"),
              Call(role, "sagemaker:DescribeProcessingJob", job, {}, "which endpoint a finished job monitored")])
    report = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    flow.add(s3_read(platform, role, f"{report}/cloudwatch_metrics.json", "the job's metrics file"))
    flow.add([Call(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": settings.namespace}, "metrics")])
    return flow


def _package(platform) -> str:
    stage = platform.stage
    (group,) = [stage.physical_name(s, lid) for s, lid, _ in stage.resources("AWS::SageMaker::ModelPackageGroup")]
    return _arn(platform, "model-package", f"{group}/1")


@pytest.fixture(scope="module")
def runners(platforms, cdk_out):
    found = {}
    for env in MONITORED:
        runner = runner_of(platforms[env], cdk_out / f"assembly-{env.capitalize()}")
        _collect_targets(platforms[env], runner)
        found[env] = runner
    return found


@pytest.mark.parametrize("env", MONITORED)
def test_runner_flow_covers_every_boto3_call_of_its_code(platforms, runners, env):
    runner = runners[env]
    checked = {c.action.lower() for c in runner_flow(platforms[env], runner).checks if isinstance(c, Call)}
    wanted = {a.lower() for s, o in boto3_calls(runner.code) for a in iam_actions(s, o)} - MODEL_MONITOR_ONLY
    assert wanted <= checked, f"calls in the code without a flow check: {sorted(wanted - checked)}"


@pytest.mark.parametrize("env", MONITORED)
def test_runner_starts_our_job_and_publishes_its_metrics(platforms, runners, env):
    # GIVEN a scheduled run, WHEN the function finds the deployed baseline, writes the manifests,
    # starts the job and later publishes its metrics, THEN its role may make every call.
    assert_authorized(platforms[env], runner_flow(platforms[env], runners[env]))


@pytest.mark.parametrize("env", MONITORED)
def test_rules_invoke_the_runner(platforms, runners, env):
    # GIVEN the schedule rule and the job-completion rule, THEN EventBridge may invoke the function.
    platform, runner = platforms[env], runners[env]
    rules = [arn for arn, _ in _collect_targets(platform, runner)]
    assert len(rules) >= 2, "expected a schedule rule and a completion rule targeting the function"
    flow = Flow(f"{env}: rules invoke the monitoring function").add(
        Call(Principal.of_service("events.amazonaws.com"), "lambda:InvokeFunction", runner.arn,
             {"aws:SourceArn": rule, "aws:SourceAccount": platform.account}, "rule target") for rule in rules)
    assert_authorized(platform, flow)


def monitoring_job_flow(platform, request, why) -> Flow:
    """The job as SageMaker runs it with its role: every input (the capture manifest and the
    objects it lists), the report with the models key, image, logs, ENIs and volume key."""
    role = Principal.role(request["RoleArn"])
    flow = Flow(why).add([assume(platform, SAGEMAKER, role)]).add(processing_runtime(platform, request, {}, why))
    capture = next(i for i in request["ProcessingInputs"] if i["InputName"] == "capture")["S3Input"]["S3Uri"]
    bucket = capture.removeprefix("s3://").split("/")[0]
    endpoint = request["Environment"]["MONITORED_ENDPOINT"]
    flow.add(s3_read(platform, role, f"s3://{bucket}/data-capture/{endpoint}/AllTraffic/2026/12/01/02/0001.jsonl",
                     "captured requests the manifest lists"))
    flow.add(s3_read(platform, role, f"s3://{bucket}/monitoring/ground-truth/{endpoint}/2026/12/01/02/l.jsonl",
                     "labels the manifest lists"))
    flow.add([Call(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "/aws/sagemaker/ProcessingJobs"},
                   "job metrics")])
    return flow


@pytest.mark.parametrize("env", MONITORED)
def test_our_monitoring_job_runs(platforms, runners, env):
    _, _, _, request = one_run(runners[env])
    assert request["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert_authorized(platforms[env], monitoring_job_flow(platforms[env], request, f"{env}: our monitoring job"))


# --- the Model Monitor engine and retraining (a staging stage that turns them on) -----------------
MM = {"engine": "model_monitor", "retrain_on_drift": True, "min_auc": 0.8,
      "clarify": {"bias_facet_index": 3, "bias_facet_threshold": 0.5}}
CONTEXT = {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
           "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": True, "@aws-cdk/aws-iam:minimizePolicies": True,
           "aws:cdk:enable-asset-metadata": True}


@pytest.fixture(scope="module")
def model_monitor(tmp_path_factory):
    """(platform, assembly) of a staging stage whose monitoring.engine is model_monitor."""
    folder = tmp_path_factory.mktemp("mm")
    shutil.copytree(CONFIG_DIR, folder / "config")
    with open(folder / "config" / "staging.yaml", "a") as handle:
        handle.write("monitoring: " + json.dumps(MM) + "\n")
    config = load_config("staging", folder / "config")
    app = cdk.App(context=CONTEXT, outdir=str(folder / "cdk.out"))
    MlPlatformStage(app, "Staging", config=config)
    app.synth()
    assembly = folder / "cdk.out" / "assembly-Staging"
    return load_platform(assembly, account=config.account, region=config.region), assembly


def _definitions(platform):
    stage = platform.stage
    for kind in ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability"):
        for stack, _, resource in stage.resources(f"AWS::SageMaker::{kind}JobDefinition"):
            yield kind, stage.properties(stack, resource)


def test_model_monitor_jobs_run(model_monitor):
    # GIVEN each job definition, WHEN a schedule runs it, THEN its role reads the endpoint's capture,
    # labels and current baseline, writes the report with the key, pulls the image (ENIs, volume key).
    platform, _ = model_monitor
    kinds = []
    for kind, props in _definitions(platform):
        kinds.append(kind)
        role = Principal.role(props["RoleArn"])
        cluster, output = props["JobResources"]["ClusterConfig"], props[f"{kind}JobOutputConfig"]
        endpoint = props["EndpointName"]
        app = props[f"{kind}AppSpecification"]
        flow = Flow(f"Model Monitor {kind}").add([assume(platform, SAGEMAKER, role)])
        flow.add(container_runtime_checks(platform, role, image=app["ImageUri"], logs="/aws/sagemaker/ProcessingJobs",
                                          vpc=props["NetworkConfig"]["VpcConfig"], volume_key=cluster["VolumeKmsKeyId"],
                                          why=kind))
        bucket = output["MonitoringOutputs"][0]["S3Output"]["S3Uri"].removeprefix("s3://").split("/")[0]
        flow.add(s3_read(platform, role, f"s3://{bucket}/data-capture/{endpoint}/AllTraffic/2026/12/01/02/c.jsonl",
                         "endpoint capture"))
        flow.add(s3_write(platform, role, output["MonitoringOutputs"][0]["S3Output"]["S3Uri"], "report",
                          output["KmsKeyId"]))
        for resource in (props.get(f"{kind}BaselineConfig") or {}).values():
            flow.add(s3_read(platform, role, resource["S3Uri"], "current baseline"))
        ground_truth = props[f"{kind}JobInput"].get("GroundTruthS3Input")
        if ground_truth:
            flow.add(s3_read(platform, role, f"{ground_truth['S3Uri']}/2026/12/01/02/l.jsonl", "ground truth"))
        if "ConfigUri" in app:
            flow.add(s3_read(platform, role, app["ConfigUri"], "Clarify analysis configuration"))
            shadow = _arn(platform, "endpoint", "sm-clarify-job-1")
            flow.add([Call(role, f"sagemaker:{a}", shadow, {}, "Clarify shadow endpoint")
                      for a in ("CreateEndpoint", "DescribeEndpoint", "InvokeEndpoint", "DeleteEndpoint")])
            flow.add([Call(role, "sagemaker:DescribeModel", _arn(platform, "model", f"{endpoint}-model-0123456789ab"),
                           {}, "the deployed model")])
        assert_authorized(platform, flow)
    assert sorted(kinds) == ["DataQuality", "ModelBias", "ModelExplainability", "ModelQuality"]


def test_runner_points_model_monitor_schedules_at_the_deployed_baseline(model_monitor):
    # GIVEN an endpoint coming InService, THEN the function copies the baseline to the current
    # prefix, writes the Clarify configurations and creates or updates each schedule.
    platform, assembly = model_monitor
    runner = runner_of(platform, assembly)
    watched = next(iter(json.loads(runner.environment["MODEL_MONITOR"]).values()))
    role, key = runner.role, runner.environment["KMS_KEY_ARN"]
    bucket = watched["baseline"].removeprefix("s3://").split("/")[0]
    flow = Flow("Model Monitor schedules").add(runner.runtime_checks(platform))
    flow.add(s3_read(platform, role, f"s3://{bucket}/pipelines/kytlemm1lvpq/Baseline/output/baseline/statistics.json",
                     "registered baseline (CopyObject source)"))
    flow.add(c for c in s3_write(platform, role, watched["baseline"] + "/", "current baseline (CopyObject)", key)
             if c.action != "s3:AbortMultipartUpload")  # CopyObject and PutObject are single requests
    for uri in watched["clarify"]:
        flow.add(c for c in s3_write(platform, role, uri, "Clarify configuration", key)
                 if c.action != "s3:AbortMultipartUpload")
    for schedule in watched["schedules"]:
        report = f"{watched['baseline'].rsplit('/', 1)[0]}/{schedule['name'].rsplit('-', 1)[1]}"
        flow.add(s3_read(platform, role, f"{report}/cloudwatch_metrics.json", "an execution's report (absent)"))
        arn = _arn(platform, "monitoring-schedule", schedule["name"])
        flow.add(Call(role, f"sagemaker:{a}", arn, {}, schedule["type"])
                 for a in ("DescribeMonitoringSchedule", "CreateMonitoringSchedule", "UpdateMonitoringSchedule"))
    assert len(watched["schedules"]) == 4
    wanted = {a.lower() for s, o in boto3_calls(runner.code) for a in iam_actions(s, o)} & MODEL_MONITOR_ONLY
    assert wanted <= {c.action.lower() for c in flow.checks if isinstance(c, Call)}
    assert_authorized(platform, flow)


def test_drift_alarm_starts_the_training_pipeline(model_monitor):
    # GIVEN retrain_on_drift, WHEN the drift alarm fires, THEN the rule's role may start the pipeline.
    platform, _ = model_monitor
    stage = platform.stage
    pipelines = {stage.arn(s, lid) for s, lid, _ in stage.resources("AWS::SageMaker::Pipeline")}
    flow = Flow("retraining on drift")
    for stack, _, resource in stage.resources("AWS::Events::Rule"):
        props = stage.properties(stack, resource)
        if props.get("EventPattern", {}).get("source") != ["aws.cloudwatch"]:
            continue
        for target in props["Targets"]:
            assert target["Arn"] in pipelines, f"retraining targets {target['Arn']}, not the training pipeline"
            role = Principal.role(target["RoleArn"])
            flow.add([assume(platform, "events.amazonaws.com", role),
                      Call(role, "sagemaker:StartPipelineExecution", target["Arn"], {}, "retraining")])
    assert flow.checks, "no rule starts the pipeline on the drift alarm"
    assert_authorized(platform, flow)
