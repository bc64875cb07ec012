"""GIVEN every environment's training pipeline WHEN it registers a model (and creates the batch-transform
model) THEN the container reads its inference code from inside model.tar.gz and knows its region: nothing
comes from the CDK assets bucket, which a network-isolated model cannot reach and `cdk gc` may empty
(issue 9 defects 1 and 14). Proof 2 (tests/containers) starts that container offline."""
from __future__ import annotations

import json

import pytest

from ml_platform.config import ENVIRONMENTS, load_config


def _containers(template) -> dict[str, dict]:
    (pipeline,) = template.find_resources("AWS::SageMaker::Pipeline").values()
    definition = json.loads(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0])
    (check,) = [s for s in definition["Steps"] if s["Type"] == "Condition"]
    steps = {s["Name"]: s["Arguments"] for s in check["Arguments"]["IfSteps"]}
    found = {"RegisterModel": steps["RegisterModel"]["InferenceSpecification"]["Containers"][0]}
    if "CreateModel" in steps:
        found["CreateModel"] = steps["CreateModel"]["PrimaryContainer"]
    return found


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_inference_code_comes_from_the_model_archive(stages, template_of, environment):
    region = load_config(environment).region
    for step, container in _containers(template_of(stages[environment].training)).items():
        assert container["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py",
                                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                                            "SAGEMAKER_REGION": region,
                                            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}, step
        assert "cdk-" not in json.dumps(container["Environment"]), step
