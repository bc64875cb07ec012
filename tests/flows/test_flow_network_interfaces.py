"""Network interfaces only where the work is placed: every role a service uses to create ENIs
(Lambda functions, SageMaker jobs and models, Glue jobs) may create one in its own subnets with its
own security group, and is refused a subnet or security group outside that placement."""
from __future__ import annotations

import pytest
from flowcheck.calls import vpc_network_interfaces
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import functions
from flowcheck.policy import Principal, Request
from flowcheck.sagemaker import pipeline_of, steps

from ml_platform.config import ENVIRONMENTS

FOREIGN_SUBNET, FOREIGN_GROUP = "subnet-0f0f0f0f0f0f0f0f0", "sg-0f0f0f0f0f0f0f0f0"


def _placements(platform, cdk_out, env):
    """(who, role, subnets, security groups) of every VPC placement the templates define."""
    found = []
    for name, function in functions(platform, cdk_out / f"assembly-{env.capitalize()}").items():
        vpc = function.properties.get("VpcConfig", {})
        if vpc.get("SubnetIds"):
            found.append((f"function {name}", function.role, vpc["SubnetIds"], vpc["SecurityGroupIds"]))
    _, definition = pipeline_of(platform)
    for step in steps(definition):
        args = step["Arguments"]
        job = args.get("TrainingJobDefinition", args)
        vpc = job.get("VpcConfig") or job.get("NetworkConfig", {}).get("VpcConfig")
        if vpc:
            found.append((f"step {step['Name']}", Principal.role(job.get("RoleArn") or job["ExecutionRoleArn"]), vpc["Subnets"],
                          vpc["SecurityGroupIds"]))
    stage = platform.stage
    for stack, _, resource in stage.resources("AWS::Glue::Connection"):
        requirements = stage.properties(stack, resource)["ConnectionInput"]["PhysicalConnectionRequirements"]
        for job_stack, _, job in stage.resources("AWS::Glue::Job"):
            props = stage.properties(job_stack, job)
            found.append((f"Glue job {props['Name']}", Principal.role(props["Role"]),
                          [requirements["SubnetId"]], requirements["SecurityGroupIdList"]))
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_role_creates_interfaces_in_its_placement(platforms, cdk_out, env):
    platform = platforms[env]
    placements = _placements(platform, cdk_out, env)
    kinds = {who.split()[0] for who, *_ in placements}
    assert {"function", "step", "Glue"} <= kinds
    for who, role, subnets, groups in placements:
        flow = Flow(f"{env}: {who} ENIs").add(vpc_network_interfaces(platform, role, subnets=subnets,
                                                                     security_groups=groups, why=who))
        assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_role_creates_an_interface_outside_its_placement(platforms, cdk_out, env):
    platform = platforms[env]
    ec2 = f"arn:aws:ec2:{platform.region}:{platform.account}"
    for who, role, _, _ in _placements(platform, cdk_out, env):
        for foreign in (f"{ec2}:subnet/{FOREIGN_SUBNET}", f"{ec2}:security-group/{FOREIGN_GROUP}"):
            decision = platform.authorize(Request(role, "ec2:CreateNetworkInterface", foreign, {}))
            assert not decision, f"{who} may create a network interface in {foreign}: {decision}"
