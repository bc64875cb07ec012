"""Building blocks with secure defaults, one package per capability.

foundation (keys, network, roles, alerts, the Lambda-in-VPC shape), data, training, serving,
delivery; features, labeling, monitoring, workspaces and operations for the capabilities being added.
A stack imports from its capability's package; runtime code lives in lambda/, glue_jobs/, training_code/.
"""
