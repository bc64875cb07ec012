"""Deploy the newest Approved model package to an endpoint and smoke-test it (the delivery pipeline's
post-Prod step; also usable by hand).

    python3 scripts/promote_model.py --role-arn ARN --function-name NAME --endpoint-name NAME --region R

1. Assume `--role-arn` (the environment's model-promotion role; omit it to use the caller's own).
2. Invoke the endpoint deployer synchronously with `{"action": "deploy-latest"}`: it creates the
   model and a content-named endpoint configuration, and creates or updates the endpoint (an
   endpoint already on that configuration is left as it is). A handler error fails the step.
3. Wait until the endpoint is InService on that configuration: a blue/green update that rolled back
   (InService on another configuration) or a Failed endpoint fails the step.
4. Smoke test: one CSV row. The width is learnt from the model itself: a one-column row is refused by
   the inference code with "row 1 has 1 columns, expected N"; a row of N zeros must then answer 200
   with one prediction per row.

Only the standard library and boto3 (present in CodeBuild images). Exit code 0 on success, 1 with a
one-line reason otherwise.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

_WIDTH = re.compile(r"expected (\d+)")


class PromotionError(Exception):
    """The promotion failed; the message says where and why."""


@dataclass
class Clients:
    lambda_: object
    sagemaker: object
    runtime: object


def clients_for(region: str, role_arn: str | None) -> Clients:
    session = boto3.Session(region_name=region)
    if role_arn:
        credentials = session.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName="promote-model")["Credentials"]
        session = boto3.Session(region_name=region, aws_access_key_id=credentials["AccessKeyId"],
                                aws_secret_access_key=credentials["SecretAccessKey"],
                                aws_session_token=credentials["SessionToken"])
    return Clients(session.client("lambda"), session.client("sagemaker"), session.client("sagemaker-runtime"))


def deploy_latest(lambda_client, function_name: str) -> dict:
    response = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                    Payload=json.dumps({"action": "deploy-latest"}).encode())
    payload = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise PromotionError(f"deployer {function_name} failed: {payload.get('errorType', 'Error')}: "
                             f"{payload.get('errorMessage', payload)}")
    return payload


def wait_in_service(sagemaker, endpoint_name: str, config_name: str, *, timeout_s: float,
                    poll_s: float = 30.0, sleep=time.sleep, clock=time.monotonic) -> dict:
    deadline = clock() + timeout_s
    while True:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        status = endpoint["EndpointStatus"]
        if status == "Failed":
            raise PromotionError(f"endpoint {endpoint_name} failed: {endpoint.get('FailureReason', 'no reason')}")
        if status == "InService":
            if endpoint["EndpointConfigName"] != config_name:
                raise PromotionError(f"endpoint {endpoint_name} is in service on {endpoint['EndpointConfigName']}, "
                                     f"not {config_name}: the update rolled back (see its rollback alarms)")
            return endpoint
        if clock() > deadline:
            raise PromotionError(f"endpoint {endpoint_name} still {status} after {timeout_s:.0f} s")
        sleep(poll_s)


def invoke_csv(runtime, endpoint_name: str, body: str) -> tuple[int, str]:
    """InvokeEndpoint with a CSV body; a model's 4xx (ModelError) comes back as its status and message."""
    try:
        response = runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="text/csv",
                                           Accept="application/json", Body=body.encode())
        return 200, response["Body"].read().decode()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ModelError":
            raise
        return int(error.response.get("OriginalStatusCode", 500)), error.response.get("OriginalMessage", "")


def smoke_test(runtime, endpoint_name: str) -> list[float]:
    status, text = invoke_csv(runtime, endpoint_name, "0")
    if status != 200:
        width = _WIDTH.search(text)
        if status != 400 or width is None:
            raise PromotionError(f"endpoint {endpoint_name} answered {status} to the width probe: {text[:300]}")
        status, text = invoke_csv(runtime, endpoint_name, ",".join(["0"] * int(width.group(1))))
    if status != 200:
        raise PromotionError(f"endpoint {endpoint_name} answered {status}: {text[:300]}")
    predictions = json.loads(text).get("predictions")
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise PromotionError(f"endpoint {endpoint_name} answered without one prediction: {text[:300]}")
    return predictions


def promote(clients: Clients, *, function_name: str, endpoint_name: str, timeout_s: float,
            sleep=time.sleep) -> dict:
    result = deploy_latest(clients.lambda_, function_name)
    config = result.get("endpoint_config_name")
    if not config:
        raise PromotionError(f"deployer {function_name} answered without an endpoint configuration: {result}")
    wait_in_service(clients.sagemaker, endpoint_name, config, timeout_s=timeout_s, sleep=sleep)
    return {**result, "smoke_test_predictions": smoke_test(clients.runtime, endpoint_name)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role-arn", default=None)
    parser.add_argument("--function-name", required=True)
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--timeout-minutes", type=float, default=50)
    args = parser.parse_args(argv)
    try:
        result = promote(clients_for(args.region, args.role_arn), function_name=args.function_name,
                         endpoint_name=args.endpoint_name, timeout_s=args.timeout_minutes * 60)
    except (PromotionError, ClientError) as error:
        print(f"promotion failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
