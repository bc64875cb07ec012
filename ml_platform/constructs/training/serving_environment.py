"""The environment of every serving container the platform registers (script mode on the XGBoost image).

No CDK or SDK import: the serving tests start the real SageMaker inference toolkit with exactly
this environment.
"""
from __future__ import annotations

# train.py writes the inference code into the model directory as code/; SageMaker extracts
# model.tar.gz into /opt/ml/model, so the container finds it there without any download (the AWS
# SDK's own choice for repacked and network-isolated models) and never in the CDK assets bucket,
# whose objects `cdk gc` may delete while registered model versions still name them.
INFERENCE_PROGRAM = "inference.py"
CODE_IN_MODEL = "/opt/ml/model/code"
# The inference toolkit answers a request without Accept (or `*/*`) in this type; its own default
# is application/json, the built-in algorithm's is text/csv: clients of the built-in get what they
# always got.
DEFAULT_ACCEPT = "text/csv"


def serving_environment(region: str) -> dict[str, str]:
    """`region`: SAGEMAKER_REGION, the toolkit's region for any AWS call it makes."""
    return {"SAGEMAKER_PROGRAM": INFERENCE_PROGRAM, "SAGEMAKER_SUBMIT_DIRECTORY": CODE_IN_MODEL,
            "SAGEMAKER_REGION": region, "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": DEFAULT_ACCEPT}
