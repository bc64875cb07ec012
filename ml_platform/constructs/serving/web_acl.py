"""A regional WAFv2 web ACL for API Gateway stages: AWS managed rule groups plus a per-IP rate rule."""
from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                       "AWSManagedRulesAmazonIpReputationList")


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name,
                                                    sampled_requests_enabled=True)


# The common rule set's SizeRestrictions_BODY blocks bodies over 8 KB. It is set to count (it still
# labels the request), and BodySizeOutsideLargeBodyPaths blocks on that label except on the paths
# built to take large bodies (AWS WAF developer guide: rule action overrides, label match statements).
COMMON_RULE_SET, BODY_SIZE_RULE = "AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY"
BODY_SIZE_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"


def _managed_group(group: str, index: int) -> wafv2.CfnWebACL.RuleProperty:
    overrides = [wafv2.CfnWebACL.RuleActionOverrideProperty(
        name=BODY_SIZE_RULE, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}))] \
        if group == COMMON_RULE_SET else None
    return wafv2.CfnWebACL.RuleProperty(
        name=group, priority=index, override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(managed_rule_group_statement=(
            wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(vendor_name="AWS", name=group,
                                                              rule_action_overrides=overrides))),
        visibility_config=_visibility(group))


def _body_size_rule(priority: int, large_body_paths: Sequence[str]) -> wafv2.CfnWebACL.RuleProperty:
    """Block oversized bodies (the label) unless the URI path ends with one of `large_body_paths`."""
    exempt = [wafv2.CfnWebACL.StatementProperty(byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
        field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}), positional_constraint="ENDS_WITH",
        search_string=path, text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]))
        for path in large_body_paths]
    exempted = exempt[0] if len(exempt) == 1 else wafv2.CfnWebACL.StatementProperty(
        or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=exempt))
    return wafv2.CfnWebACL.RuleProperty(
        name="BodySizeOutsideLargeBodyPaths", priority=priority, action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=[
            wafv2.CfnWebACL.StatementProperty(label_match_statement=wafv2.CfnWebACL.LabelMatchStatementProperty(
                scope="LABEL", key=BODY_SIZE_LABEL)),
            wafv2.CfnWebACL.StatementProperty(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=exempted))])),
        visibility_config=_visibility("BodySizeOutsideLargeBodyPaths"))


class RegionalWebAcl(Construct):
    """Default allow; blocks what the managed groups match and any IP above `rate_limit` requests per 5 minutes.

    Behaviour: the managed groups run in their own actions, except the common rule set's 8 KB body
    limit, which does not apply to paths ending with one of `large_body_paths` (e.g. `/invocations`,
    which takes up to 6 MB; its own handler answers 413 above that); the rate rule counts per source
    IP; WAF logs go to a KMS-encrypted `aws-waf-logs-<name>` log group with retention.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, rate_limit: int, logs_key: kms.IKey,
                 log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy,
                 large_body_paths: Sequence[str] = ()) -> None:
        super().__init__(scope, construct_id)
        rules = [_managed_group(group, index) for index, group in enumerate(MANAGED_RULE_GROUPS)]
        if large_body_paths:
            rules.append(_body_size_rule(len(rules), large_body_paths))
        rules.append(wafv2.CfnWebACL.RuleProperty(
            name="RatePerSourceIp", priority=len(rules), action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=rate_limit, aggregate_key_type="IP")),
            visibility_config=_visibility("RatePerSourceIp")))
        self.web_acl = wafv2.CfnWebACL(
            self, "Acl", scope="REGIONAL", default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=rules, visibility_config=_visibility(name), description=f"Protects {name}")
        # WAF delivers only to log groups named aws-waf-logs-*.
        self.log_group = logs.LogGroup(self, "Logs", log_group_name=f"aws-waf-logs-{name}", encryption_key=logs_key,
                                       retention=log_retention, removal_policy=removal_policy)
        stack = cdk.Stack.of(self)
        self.logging = wafv2.CfnLoggingConfiguration(
            self, "Logging", resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[stack.format_arn(service="logs", resource="log-group",
                                                      resource_name=self.log_group.log_group_name,
                                                      arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)])

    def associate(self, construct_id: str, resource_arn: str) -> wafv2.CfnWebACLAssociation:
        """Guard one regional resource (an API Gateway stage ARN)."""
        return wafv2.CfnWebACLAssociation(self, construct_id, resource_arn=resource_arn,
                                          web_acl_arn=self.web_acl.attr_arn)
