"""The cost-allocation Aspect tags every taggable resource of every stack of every environment."""
from __future__ import annotations

import aws_cdk as cdk

from ml_platform.config import load_config

# CloudFormation types that take no Tags property; everything else with Tags must carry ours.


def _stacks(stage: cdk.Stage) -> list[cdk.Stack]:
    return [c for c in stage.node.find_all() if isinstance(c, cdk.Stack)]


def _tag_dict(tags) -> dict:
    if isinstance(tags, dict):  # e.g. AWS::SSM::Parameter style maps
        return tags
    return {t["Key"]: t["Value"] for t in tags}


def test_every_taggable_resource_carries_the_cost_tags(stages, template_of):
    for environment, stage in stages.items():
        expected = load_config(environment).tags.as_dict()
        tagged = 0
        for stack in _stacks(stage):
            for logical_id, resource in template_of(stack).to_json()["Resources"].items():
                taggable = _is_taggable(stack, logical_id)
                if not taggable:
                    continue
                tags = _tag_dict(resource.get("Properties", {}).get("Tags", []))
                missing = {k: v for k, v in expected.items() if tags.get(k) != v}
                assert not missing, f"{stack.node.path}/{logical_id} ({resource['Type']}) lacks {missing}"
                tagged += 1
        assert tagged > 15, f"{environment}: too few taggable resources found ({tagged})"


def _is_taggable(stack: cdk.Stack, logical_id: str) -> bool:
    for child in stack.node.find_all():
        if isinstance(child, cdk.CfnResource) and stack.resolve(child.logical_id) == logical_id:
            return cdk.TagManager.is_taggable(child)
    return False


def test_tag_values_differ_per_environment(stages, template_of):
    values = set()
    for stage in stages.values():
        for stack in _stacks(stage):
            for resource in template_of(stack).find_resources("AWS::S3::Bucket").values():
                values.add(_tag_dict(resource["Properties"]["Tags"])["Environment"])
    assert values == {"dev", "staging", "prod"}
