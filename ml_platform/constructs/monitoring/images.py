"""The Model Monitor and Clarify container images for a region, without any AWS call.

SageMaker hosts them in per-region AWS accounts; the table covers the regions this platform
deploys to and `tests/infra/test_monitoring_images.py` checks it against the SageMaker SDK's own
image table, so a wrong account id fails a test rather than a monitoring job.
"""
from __future__ import annotations

MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
CLARIFY_REPOSITORY = "sagemaker-clarify-processing"
CLARIFY_TAG = "1.0"

MODEL_MONITOR_ACCOUNTS: dict[str, str] = {
    "eu-west-1": "468650794304", "eu-west-2": "749857270468", "eu-west-3": "680080141114",
    "eu-central-1": "048819808253", "eu-north-1": "895015795356", "us-east-1": "156813124566",
    "us-east-2": "777275614652", "us-west-2": "159807026194", "ap-southeast-2": "563025443158",
}
CLARIFY_ACCOUNTS: dict[str, str] = {
    "eu-west-1": "131013547314", "eu-west-2": "440796970383", "eu-west-3": "341593696636",
    "eu-central-1": "017069133835", "eu-north-1": "763603941244", "us-east-1": "205585389593",
    "us-east-2": "211330385671", "us-west-2": "306415355426", "ap-southeast-2": "007051062584",
}


def _account(table: dict[str, str], region: str, what: str) -> str:
    try:
        return table[region]
    except KeyError:
        raise ValueError(f"no {what} image account known for region {region!r}; add it from the "
                         "SageMaker documentation") from None


def model_monitor_image_uri(region: str) -> str:
    account = _account(MODEL_MONITOR_ACCOUNTS, region, "Model Monitor")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{MODEL_MONITOR_REPOSITORY}"


def clarify_image_uri(region: str) -> str:
    account = _account(CLARIFY_ACCOUNTS, region, "Clarify")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{CLARIFY_REPOSITORY}:{CLARIFY_TAG}"


def repository_arns(region: str) -> list[str]:
    """The two ECR repositories the Model Monitor job role may pull from (and nothing else)."""
    return [f"arn:aws:ecr:{region}:{_account(MODEL_MONITOR_ACCOUNTS, region, 'Model Monitor')}:repository/"
            f"{MODEL_MONITOR_REPOSITORY}",
            f"arn:aws:ecr:{region}:{_account(CLARIFY_ACCOUNTS, region, 'Clarify')}:repository/{CLARIFY_REPOSITORY}"]
