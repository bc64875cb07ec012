"""The Glue workflow, run locally: the jobs in the order its triggers chain them, each as Glue
starts it (its script asset, `--extra-py-files` zip on the import path, every DefaultArgument),
with S3 URIs mapped to the local buckets; the completion marker checked against the EventBridge
rule that starts the training pipeline."""
from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from rehearsal.assembly import Assembly, Resource
from rehearsal.local_s3 import LocalS3

LOCAL_CORES = 2
S3_URI = re.compile(r"s3://[^\s,]+")


def workflow_jobs(assembly: Assembly) -> list[Resource]:
    """The Glue jobs in the order the workflow's triggers run them (start trigger first)."""
    jobs = {j.logical_id: j for j in assembly.resources("AWS::Glue::Job")}
    triggers = [t.properties for t in assembly.resources("AWS::Glue::Trigger")]
    start = [t for t in triggers if t["Type"] in ("ON_DEMAND", "SCHEDULED")]
    if len(start) != 1:
        raise LookupError(f"expected one start trigger in the Glue workflow, found {len(start)}")
    order, current = [], start[0]
    while current is not None:
        names = [a["JobName"]["Ref"] for a in current["Actions"] if "JobName" in a]
        order += [jobs[n] for n in names]
        current = next((t for t in triggers if t.get("Predicate") and names and any(
            c.get("JobName", {}).get("Ref") in names and c["State"] == "SUCCEEDED"
            for c in t["Predicate"]["Conditions"]) and any("JobName" in a for a in t["Actions"])), None)
    return order


def run_job(assembly: Assembly, s3: LocalS3, job: Resource, log_dir: Path) -> dict:
    """Run one Glue job; returns the `job_summary` line it printed."""
    props = job.properties
    args = dict(props["DefaultArguments"])
    script = s3.path(props["Command"]["ScriptLocation"])
    modules = [str(s3.path(uri)) for uri in args.pop("--extra-py-files").split(",")]
    command = [sys.executable, str(script), "--JOB_NAME", props["Name"]]
    for name, value in args.items():
        command += [name, S3_URI.sub(lambda m: str(s3.path(m.group(0))), str(value))]
    # Glue's own cluster settings stand in for a 2-worker G.1X job: few shuffle partitions, no UI.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(modules), PYSPARK_PYTHON=sys.executable,
               PYSPARK_SUBMIT_ARGS=f"--master local[{LOCAL_CORES}] --conf spark.sql.shuffle.partitions={LOCAL_CORES * 2} "
                                   "--conf spark.ui.enabled=false --driver-memory 2g pyspark-shell")
    log = log_dir / f"{props['Name']}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as out:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=out, text=True, env=env, check=False)
    out_text = result.stdout
    log.write_text(log.read_text() + out_text)
    if result.returncode != 0:
        raise RuntimeError(f"Glue job {props['Name']} failed (exit {result.returncode}); see {log}")
    summary = next((json.loads(line) for line in out_text.splitlines() if '"job_summary"' in line or '"job":' in line), {})
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary


def check_training_trigger(assembly: Assembly, s3: LocalS3, marker_uri: str) -> str:
    """The EventBridge rule on S3 Object Created that starts training must match `marker_uri`."""
    bucket, _, key = marker_uri[len("s3://"):].partition("/")
    if not s3.path(marker_uri).is_file():
        raise AssertionError(f"the ETL wrote no completion marker {marker_uri}")
    for rule in assembly.resources("AWS::Events::Rule"):
        pattern = rule.properties.get("EventPattern", {})
        if pattern.get("source") != ["aws.s3"]:
            continue
        names = [assembly.resolve(n, rule.stack) for n in pattern["detail"]["bucket"]["name"]]
        keys = pattern["detail"]["object"]["key"]
        if bucket in names and any(fnmatch.fnmatchcase(key, k["wildcard"]) for k in keys if "wildcard" in k):
            return rule.logical_id
    raise AssertionError(f"no EventBridge rule starts training on {marker_uri}")
