"""GIVEN the training stack WHEN SageMaker encrypts a job's volume with the models key THEN the role that
creates the job (pipeline) and the roles that run them (processing, training) may create KMS grants on
that key for AWS resources only, and the key policy admits them for the same (issue 9 defect 2)."""
from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

ROLES = ("sagemaker-pipeline", "sagemaker-processing", "sagemaker-training")


def _policy_of(template: dict, role_name: str) -> dict:
    (role,) = [r for r in template["Resources"].values()
               if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == role_name]
    (policy_ref,) = [a for a in role["Properties"]["ManagedPolicyArns"] if "Ref" in a]
    return template["Resources"][policy_ref["Ref"]]["Properties"]["PolicyDocument"]


@pytest.mark.parametrize("purpose", ROLES)
def test_role_may_create_grants_on_the_models_key_for_aws_resources_only(prod_stage, template_of, purpose):
    template = template_of(prod_stage.training).to_json()
    models_key = prod_stage.training.resolve(prod_stage.security.keys.models.key_arn)
    statements = _policy_of(template, f"mlp-prod-{purpose}")["Statement"]
    grants = [s for s in statements if s.get("Action") == "kms:CreateGrant"]
    assert grants == [{"Action": "kms:CreateGrant", "Effect": "Allow",
                       "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                       "Resource": models_key}]


def test_models_key_policy_admits_the_job_roles_grants(prod_stage, template_of):
    # Match.array_with keeps order: the key users' order of the stage's KEY_USERS.
    arns = [f"arn:aws:iam::333333333333:role/mlp-prod-{p}"
            for p in ("sagemaker-processing", "sagemaker-training", "sagemaker-pipeline")]
    template_of(prod_stage.security).has_resource_properties("AWS::KMS::Key", {
        "Description": Match.string_like_regexp("Model artifacts"),
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Action": Match.array_with(["kms:CreateGrant"]),
            "Condition": {"ArnEquals": {"aws:PrincipalArn": Match.array_with(arns)},
                          "Bool": {"kms:GrantIsForAWSResource": "true"}}})])}})
