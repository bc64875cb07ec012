"""Model serving: the endpoint spec, the endpoint, the approval-driven deployer, the API front and
its web ACL, the model execution role (runtime code: lambda/endpoint_deployer/, lambda/endpoint_proxy/)."""
