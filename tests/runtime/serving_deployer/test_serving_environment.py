"""GIVEN an approved package WHEN the deployer builds its CreateModel request THEN the container gets the
package's environment plus the region it runs in, and a network-isolated model is never created from a
package whose inference code lives on S3 (issue 9, defects 1 and 14)."""
from __future__ import annotations

import pytest
from deployer_testkit import PACKAGE_ARN, package_description


def test_environment_is_the_packages_plus_the_region(settings):
    from deployer_actions import model_request
    container = model_request(settings, package_description())["PrimaryContainer"]
    assert container["ModelPackageName"] == PACKAGE_ARN
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py",
                                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                                        "SAGEMAKER_REGION": "eu-west-1"}


def test_isolated_model_from_a_package_with_code_on_s3_is_refused_with_the_reason(settings):
    from deployer_actions import model_request
    from deployer_settings import DeploymentError
    old = package_description(submit_directory="s3://cdk-hnb659fds-assets-222222222222-eu-west-1/abc.gz")
    with pytest.raises(DeploymentError, match="network-isolated model cannot download"):
        model_request(settings, old)


def test_model_outside_the_vpc_may_still_read_code_from_s3(env):
    from deployer_actions import model_request
    from deployer_settings import settings_from
    settings = settings_from({**env, "SUBNET_IDS": "", "SECURITY_GROUP_IDS": ""})
    uri = "s3://mlp-dev-artifacts-111111111111-eu-west-1/code/sourcedir.tar.gz"
    request = model_request(settings, package_description(submit_directory=uri))
    assert request["EnableNetworkIsolation"] is False
    assert request["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == uri
