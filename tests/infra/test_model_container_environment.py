"""GIVEN every environment's training pipeline WHEN it registers a model (and creates the batch-transform
model) THEN the container reads its inference code from inside model.tar.gz and knows its region: nothing
comes from the CDK assets bucket, which a network-isolated model cannot reach and `cdk gc` may empty
(issue 9 defects 1 and 14). Proof 2 (tests/containers) starts that container offline."""
from __future__ import annotations

import json

import pytest

from ml_platform.config import ENVIRONMENTS, load_config


def _containers(template) -> tuple[dict[str, dict], dict]:
    """The containers of the steps that make a model, by step, and the definition's `Fn::Sub` variables."""
    (pipeline,) = template.find_resources("AWS::SageMaker::Pipeline").values()
    body, substitutions = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    (check,) = [s for s in json.loads(body)["Steps"] if s["Type"] == "Condition"]
    steps = {s["Name"]: s["Arguments"] for s in check["Arguments"]["IfSteps"]}
    found = {"RegisterModel": steps["RegisterModel"]["InferenceSpecification"]["Containers"][0]}
    if "CreateModel" in steps:
        found["CreateModel"] = steps["CreateModel"]["PrimaryContainer"]
    return found, substitutions


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_inference_code_comes_from_the_model_archive(stages, template_of, reference, environment):
    region = load_config(environment).region
    stack = stages[environment].training
    containers, substitutions = _containers(template_of(stack))
    for step, container in containers.items():
        assert container["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py",
                                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                                            "SAGEMAKER_REGION": region,
                                            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}, step
        # the archive itself: the training job's output in the platform's artifacts bucket
        assert container["ModelDataUrl"]["Std:Join"]["Values"][1] == "${Artifacts}", step
        assert container["ModelDataUrl"]["Std:Join"]["Values"][-1] == "output/model.tar.gz", step
    assert substitutions["Artifacts"] == reference(stack, stages[environment].data_lake.lake.artifacts, None)
