"""Operations alarms: every alarm of every environment notifies the alert topic, and each failure mode
of each capability has its alarm (or EventBridge rule) on the resource it watches."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ml_platform.config import ENVIRONMENTS, ConfigError, load_config
from ml_platform.stages.platform_stage import MlPlatformStage

CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
# Every platform function is Python (VpcFunction). The Node.js ones are CDK's own custom-resource
# providers (restrict the default security group, auto-delete objects, AwsCustomResource): they run
# only while CloudFormation deploys, and their failure fails that deployment, so they get no alarm.
PLATFORM_RUNTIME = "python"


def _stacks(stage: MlPlatformStage) -> list[cdk.Stack]:
    return [c for c in stage.node.children if isinstance(c, cdk.Stack)]


def _alert_topic_refs(stage: MlPlatformStage, template_of) -> tuple[str, set[str]]:
    """The alert topic's logical ID in the Operations stack, and the export names that carry its ARN."""
    operations = template_of(stage.operations).to_json()
    (topic_id,) = [lid for lid, r in operations["Resources"].items() if r["Type"] == "AWS::SNS::Topic"
                   and r["Properties"].get("TopicName") == f"{stage.naming.prefix}-alerts"]
    exports = {o["Export"]["Name"] for o in operations.get("Outputs", {}).values()
               if o.get("Value") == {"Ref": topic_id} and "Export" in o}
    return topic_id, exports


def _is_alert_topic(action: object, stack: cdk.Stack, stage: MlPlatformStage, refs: tuple[str, set[str]]) -> bool:
    topic_id, exports = refs
    if stack is stage.operations:
        return action == {"Ref": topic_id}
    return isinstance(action, dict) and action.get("Fn::ImportValue") in exports


def _resources(template: dict, kind: str) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _dims(alarm: dict) -> dict[str, object]:
    return {d["Name"]: d["Value"] for d in alarm["Properties"].get("Dimensions", [])}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_alarm_of_every_stack_notifies_the_alert_topic(stages, template_of, env):
    # GIVEN every stack of the environment
    stage = stages[env]
    refs = _alert_topic_refs(stage, template_of)
    alarms, without = 0, []
    for stack in _stacks(stage):
        for lid, alarm in _resources(template_of(stack).to_json(), "AWS::CloudWatch::Alarm").items():
            alarms += 1
            actions = alarm["Properties"].get("AlarmActions", [])
            # THEN each alarm has an action, and one of its actions is the alert topic
            if not any(_is_alert_topic(a, stack, stage, refs) for a in actions):
                without.append(f"{stack.node.path}/{lid}")
    assert alarms >= 20
    assert not without, f"alarms that do not notify the alert topic: {without}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_platform_function_alarms_on_errors_and_throttles(stages, template_of, env):
    for stack in _stacks(stages[env]):
        template = template_of(stack).to_json()
        all_functions = _resources(template, "AWS::Lambda::Function")
        functions = {lid for lid, f in all_functions.items() if f["Properties"]["Runtime"].startswith(PLATFORM_RUNTIME)}
        assert all(all_functions[lid]["Properties"]["Runtime"].startswith("nodejs")
                   for lid in set(all_functions) - functions)
        watched: dict[str, set[str]] = {}
        for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
            name = _dims(alarm).get("FunctionName")
            if alarm["Properties"].get("Namespace") == "AWS/Lambda" and isinstance(name, dict):
                watched.setdefault(name["Ref"], set()).add(alarm["Properties"]["MetricName"])
        for function in functions:
            assert {"Errors", "Throttles"} <= watched.get(function, set()), f"{stack.node.path}/{function}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_dead_letter_queue_alarms_on_any_message(stages, template_of, env):
    # GIVEN every queue a function, an event source mapping or a handler sends what it gave up on to
    for stack in _stacks(stages[env]):
        template = template_of(stack).to_json()
        queues = set(_resources(template, "AWS::SQS::Queue"))
        dead_letter = set()
        for f in _resources(template, "AWS::Lambda::Function").values():
            target = f["Properties"].get("DeadLetterConfig", {}).get("TargetArn", {})
            dead_letter |= {target["Fn::GetAtt"][0]} if "Fn::GetAtt" in target else set()
            url = f["Properties"].get("Environment", {}).get("Variables", {}).get("DEAD_LETTER_QUEUE_URL", {})
            dead_letter |= {url["Ref"]} if isinstance(url, dict) and "Ref" in url else set()
        for m in _resources(template, "AWS::Lambda::EventSourceMapping").values():
            target = m["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", {})
            dead_letter |= {target["Fn::GetAtt"][0]} if "Fn::GetAtt" in target else set()
        # THEN every queue of the platform is such a destination, and each alarms above zero
        assert dead_letter == queues, stack.node.path
        depth = {_dims(a)["QueueName"]["Fn::GetAtt"][0]: a["Properties"]
                 for a in _resources(template, "AWS::CloudWatch::Alarm").values()
                 if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"}
        for queue in queues:
            assert depth[queue]["Threshold"] == 0
            assert depth[queue]["ComparisonOperator"] == "GreaterThanThreshold"


def _alarm(template: dict, namespace: str, metric: str) -> dict:
    (found,) = [a["Properties"] for a in _resources(template, "AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("Namespace") == namespace and a["Properties"].get("MetricName") == metric]
    return found


def _rules(template: dict, source: str, detail_type: str) -> list[dict]:
    return [r["Properties"] for r in _resources(template, "AWS::Events::Rule").values()
            if r["Properties"].get("EventPattern", {}).get("source") == [source]
            and r["Properties"]["EventPattern"].get("detail-type") == [detail_type]]


def test_stream_and_delivery_failure_modes_have_alarms(dev_stage, template_of):
    ingestion = template_of(dev_stage.ingestion).to_json()
    thresholds = load_config("dev").operations.alarms
    age = _alarm(ingestion, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds")
    assert age["Threshold"] == thresholds.stream_iterator_age_seconds * 1000 and age["Statistic"] == "Maximum"
    assert _alarm(ingestion, "AWS/Kinesis", "WriteProvisionedThroughputExceeded")["Threshold"] == 1
    assert _alarm(ingestion, "AWS/Firehose", "DeliveryToS3.DataFreshness")["Threshold"] == 3600
    assert _alarm(ingestion, "AWS/Firehose", "DeliveryToS3.Success")["ComparisonOperator"] == "LessThanThreshold"
    assert _alarm(ingestion, "AWS/Firehose", "FailedConversion.Records")["Threshold"] == 1


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_api_front_alarms_on_5xx_and_on_throttled_requests(stages, template_of, env):
    serving = template_of(stages[env].serving).to_json()
    prefix = stages[env].naming.prefix
    errors = _alarm(serving, "AWS/ApiGateway", "5XXError")
    assert _dims({"Properties": errors}) == {"ApiName": f"{prefix}-endpoint-api", "Stage": "v1"}
    (api,) = _resources(serving, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["Name"] == f"{prefix}-endpoint-api"  # the name the alarm's dimension names
    # API Gateway has no throttle metric: a metric filter counts the 429s of the access log.
    (metric_filter,) = [f["Properties"] for f in _resources(serving, "AWS::Logs::MetricFilter").values()]
    assert metric_filter["FilterPattern"] == '{ $.status = "429" }'
    (transformation,) = metric_filter["MetricTransformations"]
    throttled = _alarm(serving, transformation["MetricNamespace"], transformation["MetricName"])
    assert throttled["Threshold"] == load_config(env).operations.alarms.api_throttled_requests


def test_feature_ingestion_dead_letters_and_lag_alarm(dev_stage, template_of):
    features = template_of(dev_stage.feature_store).to_json()
    depth = [a for a in _resources(features, "AWS::CloudWatch::Alarm").values()
             if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"]
    assert len(depth) == 2  # invalid records, batches the mapping gave up on
    assert _alarm(features, "AWS/Lambda", "IteratorAge")["Statistic"] == "Maximum"


def test_endpoint_has_5xx_and_latency_alarms(dev_stage, template_of):
    serving = template_of(dev_stage.serving).to_json()
    assert _alarm(serving, "AWS/SageMaker", "Invocation5XXErrors")["AlarmName"] == "mlp-dev-endpoint-5xx-errors"
    assert _alarm(serving, "AWS/SageMaker", "ModelLatency")["Threshold"] == 500_000


def test_glue_pipeline_and_labeling_failures_reach_the_topic_through_eventbridge(dev_stage, template_of, reference):
    # Glue jobs and the crawler (EventBridge state-change rules, not metrics: one event per failed run)
    processing = template_of(dev_stage.processing).to_json()
    (jobs,) = _rules(processing, "aws.glue", "Glue Job State Change")
    assert set(jobs["EventPattern"]["detail"]["state"]) == {"FAILED", "TIMEOUT", "STOPPED"}
    glue_jobs = _resources(processing, "AWS::Glue::Job")
    names = {glue_jobs[ref["Ref"]]["Properties"]["Name"] for ref in jobs["EventPattern"]["detail"]["jobName"]}
    assert names == {"mlp-dev-raw-to-curated", "mlp-dev-curated-to-features"}
    (crawler,) = _rules(processing, "aws.glue", "Glue Crawler State Change")
    assert crawler["EventPattern"]["detail"]["state"] == ["Failed"]
    # the feature store's backfill and point-in-time jobs
    feature_store = template_of(dev_stage.feature_store).to_json()
    (feature_jobs,) = _rules(feature_store, "aws.glue", "Glue Job State Change")
    store_jobs = _resources(feature_store, "AWS::Glue::Job")
    assert {store_jobs[ref["Ref"]]["Properties"]["Name"] for ref in feature_jobs["EventPattern"]["detail"]["jobName"]} \
        == {job["Properties"]["Name"] for job in store_jobs.values()}
    # the training pipeline
    training = template_of(dev_stage.training).to_json()
    (pipeline,) = _rules(training, "aws.sagemaker", "SageMaker Model Building Pipeline Execution Status Change")
    assert pipeline["EventPattern"]["detail"]["currentPipelineExecutionStatus"] == ["Failed"]
    # labeling jobs: the launcher's execution fails when the job fails or stops
    labeling = template_of(dev_stage.labeling).to_json()
    runs = _rules(labeling, "aws.states", "Step Functions Execution Status Change")
    assert len(runs) == 2 and all("FAILED" in r["EventPattern"]["detail"]["status"] for r in runs)
    # each rule's one target: the alert topic, imported from the Operations stack
    for stack, rules in ((dev_stage.processing, (jobs, crawler)), (dev_stage.feature_store, (feature_jobs,)),
                         (dev_stage.training, (pipeline,)), (dev_stage.labeling, runs)):
        topic = reference(stack, dev_stage.operations.alerts_topic, None)
        assert [[target["Arn"] for target in rule["Targets"]] for rule in rules] == [[topic]] * len(rules)


@pytest.fixture(scope="module")
def tuned_stage() -> MlPlatformStage:
    """Dev with an operator's thresholds and anomaly detection off."""
    config = load_config("dev")
    operations = config.operations.model_copy(update={
        "alarms": config.operations.alarms.model_copy(update={"lambda_errors": 3, "period_minutes": 15,
                                                              "stream_iterator_age_seconds": 600}),
        "cost_anomaly": config.operations.cost_anomaly.model_copy(update={"enabled": False})})
    return MlPlatformStage(cdk.App(context=CDK_CONTEXT), "Dev", config=config.model_copy(update={"operations": operations}))


def test_thresholds_come_from_configuration(tuned_stage):
    ingestion = Template.from_stack(tuned_stage.ingestion).to_json()
    errors = _alarm(ingestion, "AWS/Lambda", "Errors")
    assert errors["Threshold"] == 3 and errors["Period"] == 900
    assert _alarm(ingestion, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds")["Threshold"] == 600_000


def _alert_policy_statements(operations: dict) -> list[dict]:
    """The statements of the alert topic's policy and of its key's policy."""
    documents = [r["Properties"]["PolicyDocument"] for r in _resources(operations, "AWS::SNS::TopicPolicy").values()]
    documents += [r["Properties"]["KeyPolicy"] for r in _resources(operations, "AWS::KMS::Key").values()]
    return [statement for document in documents for statement in document["Statement"]]


def test_anomaly_detection_off_leaves_no_monitor_and_no_costalerts_grant(dev_stage, template_of, tuned_stage,
                                                                        service_principals):
    # GIVEN dev as configured (anomaly detection on): the topic and its key admit Cost Anomaly Detection
    configured = template_of(dev_stage.operations).to_json()
    assert "costalerts.amazonaws.com" in service_principals(_alert_policy_statements(configured))
    # WHEN it is off THEN no monitor, and neither policy names the service (the other publishers stay)
    operations = Template.from_stack(tuned_stage.operations).to_json()
    assert not _resources(operations, "AWS::CE::AnomalyMonitor")
    publishers = service_principals(_alert_policy_statements(operations))
    assert "costalerts.amazonaws.com" not in publishers
    assert {"cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com"} <= publishers


def _write_dev(tmp_path: Path, extra: str) -> Path:
    source = (Path(__file__).resolve().parents[2] / "config" / "dev.yaml").read_text()
    (tmp_path / "dev.yaml").write_text(source + extra)
    return tmp_path


def test_freshness_alarm_below_the_firehose_buffer_is_refused_with_the_reason(tmp_path):
    config_dir = _write_dev(tmp_path, "operations:\n  alarms:\n    delivery_freshness_seconds: 60\n")
    with pytest.raises(ConfigError) as refused:
        load_config("dev", config_dir=config_dir, check_locks=False)
    message = str(refused.value)
    assert "dev.yaml" in message and "delivery_freshness_seconds" in message and "buffer_interval_seconds" in message


def test_a_misspelt_threshold_is_refused_naming_the_field(tmp_path):
    config_dir = _write_dev(tmp_path, "operations:\n  alarms:\n    lambda_error: 2\n")
    with pytest.raises(ConfigError, match=r"operations\.alarms\.lambda_error: unknown key"):
        load_config("dev", config_dir=config_dir, check_locks=False)
