"""Workspaces for people: SageMaker Studio domain, user profiles and their execution roles.
Empty until the workspaces capability lands."""
