"""Post-deploy checks of one environment (the delivery pipeline runs them after each stage; also by hand).

    python3 scripts/post_deploy_check.py --role-arn ARN --region R --pipeline-name NAME \\
        --alert-topic-arn ARN [--endpoint-name NAME [--api-url URL]]

1. Assume `--role-arn` (the environment's post-deploy-check role; omit it to use the caller's own).
2. The training pipeline exists and is Active (DescribePipeline).
3. Where an endpoint is deployed (DescribeEndpoint; an empty registry deploys none, which is not a
   failure), it answers a known payload through the path clients use: the API front with a
   SigV4-signed POST when `--api-url` is given, else InvokeEndpoint. The payload is one CSV row as
   wide as the model: a one-column row is refused with "... expected N"; N zeros must then answer
   200 with one prediction.
4. No platform alarm is in ALARM: the alarms whose actions notify the platform's alert topic
   (every platform alarm does), named with their reason when one is.

Every check runs; the exit code is 1 with one line per failed check, 0 when all pass. Only the
standard library and boto3 (present in CodeBuild images).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the promotion script beside this one
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from promote_model import invoke_csv  # noqa: E402

_WIDTH = re.compile(r"expected (\d+)")
Send = Callable[[str], tuple[int, str]]  # CSV body -> (HTTP status, response text)


class CheckFailed(Exception):
    """One check failed; the message says which and why."""


@dataclass
class Clients:
    sagemaker: object
    runtime: object
    cloudwatch: object
    credentials: object  # botocore credentials, for signing API requests
    region: str


def clients_for(region: str, role_arn: str | None) -> Clients:
    session = boto3.Session(region_name=region)
    if role_arn:
        c = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="post-deploy-check")["Credentials"]
        session = boto3.Session(region_name=region, aws_access_key_id=c["AccessKeyId"],
                                aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    return Clients(session.client("sagemaker"), session.client("sagemaker-runtime"), session.client("cloudwatch"),
                   session.get_credentials(), region)


def check_pipeline(sagemaker, pipeline_name: str) -> str:
    try:
        status = sagemaker.describe_pipeline(PipelineName=pipeline_name).get("PipelineStatus")
    except ClientError as error:
        raise CheckFailed(f"training pipeline {pipeline_name}: {error.response['Error'].get('Message', error)}") from None
    if status != "Active":
        raise CheckFailed(f"training pipeline {pipeline_name} is {status}, not Active")
    return f"training pipeline {pipeline_name} is Active"


def endpoint_in_service(sagemaker, endpoint_name: str) -> bool:
    """True when the endpoint is InService; False when none is deployed yet; CheckFailed otherwise."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if "could not find" in error.response["Error"].get("Message", "").lower():
            return False
        raise
    status = endpoint["EndpointStatus"]
    if status != "InService":
        raise CheckFailed(f"endpoint {endpoint_name} is {status}: {endpoint.get('FailureReason', 'not InService')}")
    return True


def answer_known_payload(send: Send, where: str) -> list[float]:
    """One CSV row as wide as the model, sent with `send`; its one prediction, or CheckFailed."""
    status, text = send("0")
    if status != 200:
        # findall, not search: the flow proofs read `<client>.search(...)` as SageMaker's Search API.
        width = _WIDTH.findall(text)
        if status != 400 or not width:
            raise CheckFailed(f"{where} answered {status} to the width probe: {text[:300]}")
        status, text = send(",".join(["0"] * int(width[0])))
    if status != 200:
        raise CheckFailed(f"{where} answered {status}: {text[:300]}")
    try:
        predictions = json.loads(text).get("predictions")
    except (ValueError, AttributeError):
        predictions = None
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise CheckFailed(f"{where} answered without one prediction: {text[:300]}")
    return predictions


def runtime_sender(runtime, endpoint_name: str) -> Send:
    """InvokeEndpoint, the path of clients without the API front (the promotion smoke test's own call)."""
    return lambda body: invoke_csv(runtime, endpoint_name, body)


def api_sender(api_url: str, credentials, region: str, *, timeout_s: float = 30.0) -> Send:
    """POST to the API front signed with SigV4 (execute-api), as an IAM-authorized client calls it."""
    def send(body: str) -> tuple[int, str]:
        request = AWSRequest(method="POST", url=api_url, data=body.encode(),
                             headers={"Content-Type": "text/csv", "Accept": "application/json"})
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        prepared = urllib.request.Request(api_url, data=body.encode(), method="POST", headers=dict(request.headers))
        try:
            with urllib.request.urlopen(prepared, timeout=timeout_s) as response:  # noqa: S310 (https URL from config)
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
    return send


def alarms_in_alarm(cloudwatch, alert_topic_arn: str) -> list[str]:
    """Platform alarms (those notifying the alert topic) now in ALARM, each with its reason."""
    found = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
            StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            if alert_topic_arn in alarm.get("AlarmActions", []):
                found.append(f"{alarm['AlarmName']} ({alarm.get('StateReason', 'no reason given')})")
    return found


def run_checks(clients: Clients, *, pipeline_name: str, alert_topic_arn: str, endpoint_name: str | None = None,
               api_url: str | None = None, send: Send | None = None) -> tuple[list[str], list[str]]:
    """(passed, failed): one line each. `send` replaces the transport (tests)."""
    passed, failed = [], []

    def attempt(check: Callable[[], str]) -> None:
        try:
            passed.append(check())
        except (CheckFailed, ClientError) as error:
            failed.append(str(error))

    attempt(lambda: check_pipeline(clients.sagemaker, pipeline_name))
    if endpoint_name:
        def endpoint_check() -> str:
            if not endpoint_in_service(clients.sagemaker, endpoint_name):
                return f"endpoint {endpoint_name}: none deployed yet (no approved model), nothing to invoke"
            where = f"API {api_url}" if api_url else f"endpoint {endpoint_name}"
            transport = send or (api_sender(api_url, clients.credentials, clients.region) if api_url
                                 else runtime_sender(clients.runtime, endpoint_name))
            return f"{where} answered the known payload: {answer_known_payload(transport, where)}"
        attempt(endpoint_check)

    def alarm_check() -> str:
        alarming = alarms_in_alarm(clients.cloudwatch, alert_topic_arn)
        if alarming:
            raise CheckFailed(f"{len(alarming)} platform alarm(s) in ALARM: " + "; ".join(alarming))
        return "no platform alarm is in ALARM"
    attempt(alarm_check)
    return passed, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role-arn", default=None)
    parser.add_argument("--region", required=True)
    parser.add_argument("--pipeline-name", required=True)
    parser.add_argument("--alert-topic-arn", required=True)
    parser.add_argument("--endpoint-name", default=None)
    parser.add_argument("--api-url", default=None)
    args = parser.parse_args(argv)
    passed, failed = run_checks(clients_for(args.region, args.role_arn), pipeline_name=args.pipeline_name,
                                alert_topic_arn=args.alert_topic_arn, endpoint_name=args.endpoint_name or None,
                                api_url=args.api_url or None)
    for line in passed:
        print(f"ok: {line}")
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
