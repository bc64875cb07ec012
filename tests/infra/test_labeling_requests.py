"""The launcher's CreateLabelingJob requests, rendered from the state machine's parameters with a
launch input, checked against botocore's SageMaker service model with Stubber (moto has no labeling jobs)."""
from __future__ import annotations

import re

import boto3
import pytest
from botocore.stub import Stubber

from ml_platform.constructs.labeling.labeling_job_request import JobSettings, create_labeling_job_parameters
from ml_platform.constructs.labeling.task_types import BUILT_IN_TASKS, CUSTOM_TASK

SETTINGS = JobSettings(
    region="eu-west-1", role_arn="arn:aws:iam::111111111111:role/mlp-dev-labeling-ground-truth",
    workteam_arn="arn:aws:sagemaker:eu-west-1:111111111111:workteam/private-crowd/mlp-dev-workforce-labelers",
    output_uri="s3://mlp-dev-curated-111111111111-eu-west-1/labeled/jobs",
    jobs_prefix_uri="s3://mlp-dev-curated-111111111111-eu-west-1/labeled/jobs",
    kms_key_arn="arn:aws:kms:eu-west-1:111111111111:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    pre_annotation_arn="arn:aws:lambda:eu-west-1:111111111111:function:mlp-dev-Labeling-PreAnnotation",
    consolidation_arn="arn:aws:lambda:eu-west-1:111111111111:function:mlp-dev-Labeling-Consolidation",
    subnet_ids=("subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"), security_group_ids=("sg-0123456789abcdef0",),
    task_time_limit_seconds=600, task_availability_seconds=864000, max_concurrent_tasks=100)
LAUNCH = {"jobName": "mlp-dev-fraud-review-20261201", "labelAttributeName": "label", "workersPerObject": 3,
          "manifestUri": "s3://mlp-dev-raw-111111111111-eu-west-1/labeling/fraud-review/input.manifest"}


def render(parameters, launch: dict):
    """What Step Functions sends: `.$` keys resolved against the input (paths and States.Format)."""
    if isinstance(parameters, list):
        return [render(v, launch) for v in parameters]
    if not isinstance(parameters, dict):
        return parameters
    out = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            out[key[:-2]] = _evaluate(value, launch)
        else:
            out[key] = render(value, launch)
    return out


def _evaluate(expression: str, launch: dict):
    formatted = re.fullmatch(r"States\.Format\('(.*)', \$\.(\w+)\)", expression)
    if formatted:
        return formatted.group(1).replace("{}", str(launch[formatted.group(2)]))
    assert expression.startswith("$."), expression
    return launch[expression[2:]]


@pytest.fixture
def sagemaker():
    client = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub


@pytest.mark.parametrize("task, automated", [(CUSTOM_TASK, False)] + [(t.key, a) for t in BUILT_IN_TASKS
                                                                      for a in (False, True)])
def test_request_is_valid_for_the_service_model(sagemaker, task, automated):
    # GIVEN the launcher's parameters for this task type, rendered with a launch input
    client, stub = sagemaker
    request = render(create_labeling_job_parameters(SETTINGS, task, automated=automated), LAUNCH)
    stub.add_response("create_labeling_job", {"LabelingJobArn": "arn:aws:sagemaker:eu-west-1:111111111111:"
                                              f"labeling-job/{LAUNCH['jobName']}"}, request)
    # WHEN sent through botocore: THEN the service model accepts every parameter (Stubber validates them)
    client.create_labeling_job(**request)
    stub.assert_no_pending_responses()
    assert request["OutputConfig"]["KmsKeyId"] == SETTINGS.kms_key_arn
    assert request["HumanTaskConfig"]["UiConfig"]["UiTemplateS3Uri"].endswith(
        f"/labeled/jobs/{LAUNCH['jobName']}/task-template.liquid.html")


def test_custom_task_uses_the_platform_functions_and_built_ins_use_aws_ones():
    custom = create_labeling_job_parameters(SETTINGS, CUSTOM_TASK)["HumanTaskConfig"]
    assert custom["PreHumanTaskLambdaArn"] == SETTINGS.pre_annotation_arn
    assert custom["AnnotationConsolidationConfig"]["AnnotationConsolidationLambdaArn"] == SETTINGS.consolidation_arn
    text = create_labeling_job_parameters(SETTINGS, "text-classification")["HumanTaskConfig"]
    assert text["PreHumanTaskLambdaArn"] == "arn:aws:lambda:eu-west-1:568282634449:function:PRE-TextMultiClass"


def test_automated_labeling_is_refused_for_custom_tasks():
    with pytest.raises(ValueError, match="no built-in automated data labeling"):
        create_labeling_job_parameters(SETTINGS, CUSTOM_TASK, automated=True)


def test_a_request_botocore_would_refuse_is_caught(sagemaker):
    # GIVEN a request missing a required member: the same check fails, so the test above means something
    client, stub = sagemaker
    request = render(create_labeling_job_parameters(SETTINGS, CUSTOM_TASK), LAUNCH)
    del request["HumanTaskConfig"]["WorkteamArn"]
    stub.add_response("create_labeling_job", {"LabelingJobArn": "x"}, request)
    with pytest.raises(Exception, match="WorkteamArn"):
        client.create_labeling_job(**request)
