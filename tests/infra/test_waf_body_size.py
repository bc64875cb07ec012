"""GIVEN the prod API's web ACL as synthesized WHEN requests of real sizes reach it THEN an inference body
of up to 6 MB on POST /invocations passes, while other paths keep the common rule set's 8 KB body limit
(issue 9 defect 12). The rules are evaluated by a small interpreter of exactly the WAF statements the
template uses; managed rule groups are modelled only by the rule this test is about."""
from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

BODY_SIZE_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
COMMON_RULE_SET_BODY_LIMIT = 8 * 1024  # AWS docs: SizeRestrictions_BODY matches bodies over 8 KB


def _matches(statement: dict, request: dict, labels: set[str]) -> bool:
    kind, body = next(iter(statement.items()))
    if kind == "AndStatement":
        return all(_matches(s, request, labels) for s in body["Statements"])
    if kind == "OrStatement":
        return any(_matches(s, request, labels) for s in body["Statements"])
    if kind == "NotStatement":
        return not _matches(body["Statement"], request, labels)
    if kind == "LabelMatchStatement":
        assert body["Scope"] == "LABEL"
        return body["Key"] in labels
    if kind == "ByteMatchStatement":
        assert set(body["FieldToMatch"]) == {"UriPath"}
        value = request["path"]
        for transformation in body["TextTransformations"]:
            value = value.lower() if transformation["Type"] == "LOWERCASE" else value
        test = {"EXACTLY": str.__eq__, "ENDS_WITH": str.endswith, "STARTS_WITH": str.startswith,
                "CONTAINS": str.__contains__}[body["PositionalConstraint"]]
        return test(value, body["SearchString"])
    if kind == "RateBasedStatement":
        return False  # one request per test: never above the per-IP rate
    raise AssertionError(f"statement {kind} is not modelled by this test")


def _common_rule_set(statement: dict, request: dict, labels: set[str]) -> str | None:
    """SizeRestrictions_BODY with its override; None when the group lets the request go on."""
    if request["body_bytes"] <= COMMON_RULE_SET_BODY_LIMIT:
        return None
    labels.add(BODY_SIZE_LABEL)
    overrides = {o["Name"]: next(iter(o["ActionToUse"])) for o in statement.get("RuleActionOverrides", [])}
    action = overrides.get("SizeRestrictions_BODY", "Block")
    return None if action == "Count" else action


def evaluate(acl: dict, request: dict) -> str:
    """'Allow' or 'Block' for `request` ({path, body_bytes}), rules in priority order."""
    labels: set[str] = set()
    for rule in sorted(acl["Rules"], key=lambda r: r["Priority"]):
        statement = rule["Statement"]
        managed = statement.get("ManagedRuleGroupStatement")
        if managed:
            if managed["Name"] == "AWSManagedRulesCommonRuleSet":
                verdict = _common_rule_set(managed, request, labels)
                if verdict:
                    return verdict
            continue  # other managed groups: these benign requests match none of their rules
        if _matches(statement, request, labels):
            action = next(iter(rule["Action"]))
            if action in ("Block", "Allow"):
                return action
    return next(iter(acl["DefaultAction"]))


@pytest.fixture(scope="module")
def web_acl(prod_stage, template_of):
    (acl,) = template_of(prod_stage.serving).find_resources("AWS::WAFv2::WebACL").values()
    return acl["Properties"]


@pytest.mark.parametrize(("path", "body_bytes", "verdict"), [
    ("/prod/invocations", 2 * 1024, "Allow"),
    ("/prod/invocations", 64 * 1024, "Allow"),
    ("/prod/invocations", 6 * 1024 * 1024, "Allow"),
    ("/prod/", 64 * 1024, "Block"),
    ("/prod/invocations/extra", 64 * 1024, "Block"),
    ("/prod/not-invocations", 9 * 1024, "Block"),
    ("/prod/other", 2 * 1024, "Allow"),
])
def test_body_size_rule_is_scoped_to_invocations(web_acl, path, body_bytes, verdict):
    assert evaluate(web_acl, {"path": path, "body_bytes": body_bytes}) == verdict


def test_common_rule_set_counts_body_size_and_a_label_rule_blocks_elsewhere(prod_stage, template_of):
    template = template_of(prod_stage.serving)
    template.has_resource_properties("AWS::WAFv2::WebACL", {"Rules": Match.array_with([
        Match.object_like({"Name": "AWSManagedRulesCommonRuleSet", "Statement": {"ManagedRuleGroupStatement":
            Match.object_like({"RuleActionOverrides": [{"Name": "SizeRestrictions_BODY",
                                                        "ActionToUse": {"Count": {}}}]})}}),
        Match.object_like({"Action": {"Block": {}}, "Statement": {"AndStatement": {"Statements": Match.array_with([
            {"LabelMatchStatement": {"Scope": "LABEL", "Key": BODY_SIZE_LABEL}}])}}}),
    ])})
