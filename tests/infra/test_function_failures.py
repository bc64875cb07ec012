"""GIVEN the Lambda functions WHEN an invocation fails THEN the failure lands where its invocation type
sends it: the asynchronously invoked deployer's dead-letter queue, which its role can encrypt for, and
no unused queue beside synchronously invoked functions (issue 9 defect 7)."""
from __future__ import annotations

from aws_cdk.assertions import Match


def _policy_of(template: dict, role_name: str) -> list[dict]:
    (role,) = [r for r in template["Resources"].values()
               if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == role_name]
    (ref,) = [a for a in role["Properties"]["ManagedPolicyArns"] if "Ref" in a]
    return template["Resources"][ref["Ref"]]["Properties"]["PolicyDocument"]["Statement"]


def test_deployer_role_can_use_its_dead_letter_queue_key(prod_stage, template_of):
    template = template_of(prod_stage.serving)
    queue_key = prod_stage.serving.resolve(prod_stage.security.keys.models.key_arn)
    template.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": queue_key})
    statements = _policy_of(template.to_json(), "mlp-prod-endpoint-deployer")
    # (statements on one resource are merged by the minimizePolicies feature flag)
    assert any({"kms:GenerateDataKey", "kms:Decrypt"} <= set(s["Action"]) and s["Resource"] == queue_key
               and "Condition" not in s for s in statements if s["Effect"] == "Allow")
    assert any(s.get("Action") == "sqs:SendMessage" or "sqs:SendMessage" in s.get("Action", [])
               for s in statements)


def test_deployer_has_a_dead_letter_queue_and_the_api_proxy_none(prod_stage, template_of):
    template = template_of(prod_stage.serving)
    template.resource_count_is("AWS::SQS::Queue", 1)
    template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"ENDPOINT_SPEC": Match.any_value()})},
        "DeadLetterConfig": {"TargetArn": Match.any_value()}})
    template.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": {"ENDPOINT_NAME": "mlp-prod-endpoint"}},
        "DeadLetterConfig": Match.absent()})
