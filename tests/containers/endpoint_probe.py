"""Inside the sandbox: start the serving entry, wait for /ping, send the requests, report as JSON.

`python endpoint_probe.py REQUESTS.json -- <serving command...>`: REQUESTS.json holds
`[{"body": str, "content_type": str, "accept": str}]`. Prints one JSON object: `ping` (status of
the first successful /ping, or null), `responses` ([{status, content_type, body}]), `exit_code`
and `log` (the server's output) when the server died before answering /ping.
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

PORT = int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or 8080)
START_TIMEOUT_S = 120


def _request(method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def _wait_for_ping(server: subprocess.Popen) -> int | None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return None
        try:
            status, _, _ = _request("GET", "/ping")
            if status == 200:
                return status
        except OSError:
            pass
        time.sleep(0.2)
    return None


def main(argv: list[str]) -> int:
    requests_file, command = argv[0], argv[argv.index("--") + 1:]
    with open(requests_file, encoding="utf-8") as handle:
        requests = json.load(handle)
    log_path = "/opt/serving-entry.log"  # the sandbox's own tmpfs, never shared
    with open(log_path, "w+", encoding="utf-8") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        report: dict = {"ping": _wait_for_ping(server), "responses": []}
        if report["ping"] is not None:
            for item in requests:
                status, kind, body = _request("POST", "/invocations", item["body"].encode(),
                                              {"Content-Type": item["content_type"], "Accept": item["accept"]})
                report["responses"].append({"status": status, "content_type": kind, "body": body.decode()})
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        report["exit_code"] = server.returncode
        log.seek(0)
        report["log"] = log.read()[-6000:]
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
