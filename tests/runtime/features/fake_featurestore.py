"""A Feature Store runtime that answers real botocore requests without a network, for Spark executors.

`client_factory(...)` returns a real `sagemaker-featurestore-runtime` client: botocore validates and
serializes every PutRecord to its HTTP form (PUT /FeatureGroup/<name>, JSON body), and a
`before-send` handler answers it the way the service does: 200, a throttling 400 on chosen first
attempts, a ValidationError for chosen record identifiers. Every request is appended to a JSON
Lines file under `log_dir` (one file per client), so tests can count what reached "the service".
Register this module with cloudpickle's `register_pickle_by_value` so executors need not import it.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
import zlib
from urllib.parse import unquote, urlparse


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


class FakeFeatureStore:
    """before-send handler; `throttle_one_in` throttles the first attempt of ~1/N identifiers."""

    def __init__(self, log_dir: str | None, identifier: str, *, throttle_one_in: int = 0,
                 refuse: tuple[str, ...] = (), latency_s: float = 0.0):
        # No log_dir: nothing is recorded (the benchmark measures the writer, not this file).
        self.log_path = os.path.join(log_dir, f"{os.getpid()}-{uuid.uuid4().hex}.jsonl") if log_dir else None
        self.identifier, self.throttle_one_in, self.refuse, self.latency_s = identifier, throttle_one_in, refuse, latency_s
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, request, **_kwargs):
        from botocore.awsrequest import AWSResponse

        body = json.loads(request.body)
        group = unquote(urlparse(request.url).path.rsplit("/", 1)[-1])
        values = {v["FeatureName"]: v["ValueAsString"] for v in body["Record"]}
        key = values[self.identifier]
        with self.lock:
            first = key not in self.seen
            self.seen.add(key)
        if self.latency_s:
            time.sleep(self.latency_s)
        status, answer, headers = 200, b"", {}
        if self.throttle_one_in and first and zlib.crc32(key.encode()) % self.throttle_one_in == 0:
            status, answer = 400, b'{"message": "Rate exceeded"}'
            headers = {"x-amzn-ErrorType": "ThrottlingException"}
        elif key in self.refuse:
            status, answer = 400, b'{"message": "Feature amount has an invalid value"}'
            headers = {"x-amzn-ErrorType": "ValidationError"}
        if self.log_path is None:
            return AWSResponse(request.url, status, headers, _Raw(answer))
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"group": group, "status": status, "values": values,
                                  "target_stores": body.get("TargetStores")}) + "\n")
        return AWSResponse(request.url, status, headers, _Raw(answer))


def client_factory(log_dir: str | None, identifier: str, **options):
    """A `client_factory(max_in_flight)` for etl_feature_writer, answered by FakeFeatureStore."""

    def factory(max_in_flight: int):
        import boto3
        from botocore.config import Config

        client = boto3.client("sagemaker-featurestore-runtime", region_name="eu-west-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing",
                              config=Config(retries={"total_max_attempts": 1}, max_pool_connections=max_in_flight))
        client.meta.events.register("before-send", FakeFeatureStore(log_dir, identifier, **options))
        return client

    return factory


def requests(log_dir: str) -> list[dict]:
    """Every request the fake answered, from every executor."""
    lines = []
    for name in sorted(os.listdir(log_dir)):
        with open(os.path.join(log_dir, name), encoding="utf-8") as log:
            lines.extend(json.loads(line) for line in log)
    return lines
