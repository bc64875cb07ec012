"""The AWS XGBoost framework image for a region, built without any AWS call.

The SageMaker-managed images live in a per-region AWS account (`sagemaker-xgboost` repository).
The table below lists the regions this platform deploys to; `tests/infra` checks it against the
SageMaker SDK's own image table (`sagemaker.core.image_uris.retrieve`), so a wrong account id fails
a test rather than a training job. Version `3.2-0` ships xgboost 3.2.0, the version
training_code pins: the model is trained and served (same image in the model package) by one
xgboost version, which matters because a 3.2 model read by an older runtime predicts differently.
"""
from __future__ import annotations

XGBOOST_REPOSITORY = "sagemaker-xgboost"

# Region -> account that hosts the SageMaker XGBoost framework images (training and inference).
XGBOOST_IMAGE_ACCOUNTS: dict[str, str] = {
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "eu-central-1": "492215442770",
    "eu-north-1": "662702820516",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-2": "246618743249",
    "ap-southeast-2": "783357654285",
}


def xgboost_image_account(region: str) -> str:
    try:
        return XGBOOST_IMAGE_ACCOUNTS[region]
    except KeyError:
        raise ValueError(f"no XGBoost framework image account known for region {region!r}; add it to "
                         "XGBOOST_IMAGE_ACCOUNTS from the SageMaker documentation") from None


def xgboost_image_uri(region: str, version: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:<version>` (CPU and GPU alike)."""
    return f"{xgboost_image_account(region)}.dkr.ecr.{region}.amazonaws.com/{XGBOOST_REPOSITORY}:{version}"


def xgboost_repository_arn(region: str) -> str:
    """The ECR repository ARN the job roles may pull from (and nothing else)."""
    return f"arn:aws:ecr:{region}:{xgboost_image_account(region)}:repository/{XGBOOST_REPOSITORY}"
