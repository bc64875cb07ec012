"""Offline authorization of runtime flows: an IAM evaluator of the policy features our templates use,
a resolver from synthesized CloudFormation templates to concrete policies, and a Lake Formation
grant model. Pure Python; no AWS call. See tests/flows/README.md."""
