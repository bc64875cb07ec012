"""`make rehearse`: the platform's own chain, end to end, locally, from the synthesized Dev templates.

    .venv/bin/python scripts/rehearse.py [--root .rehearsal] [--events 20000]

generated producer events -> the Firehose transform handler -> raw Parquet where dynamic partitioning
writes it -> raw_to_curated -> curated_to_features (local Spark, the Glue jobs' own arguments) -> the
training channels and the `_SUCCESS` marker the training trigger matches -> the SageMaker pipeline's
steps (preprocess, tuning trials under the training contract with no network, evaluate, the quality
condition, register) -> the registered container served by serve.py -> requests encoded as the
features were -> answers checked against the booster, and the pipeline's batch transform checked
against the evaluation report. Every prefix, argument, content type and command line comes from the
templates; nothing here repeats them. Needs Java 17 (Spark) and util-linux `unshare`.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from rehearsal import checks, etl, ingest  # noqa: E402
from rehearsal.assembly import Assembly, synthesize  # noqa: E402
from rehearsal.local_s3 import LocalS3  # noqa: E402
from rehearsal.pipeline_expr import Expressions  # noqa: E402
from rehearsal.pipeline_steps import Execution, StepFailed, run_steps  # noqa: E402
from rehearsal.serving import model_server, request  # noqa: E402

GENERATOR = REPO / "tests" / "runtime" / "data" / "synthetic_events.py"


def _stage(name: str, started: float, **figures) -> None:
    shown = ", ".join(f"{k}={v}" for k, v in figures.items())
    print(f"[{time.perf_counter() - started:6.1f}s] {name:<22} {shown}", flush=True)


def producer_events(count: int) -> list:
    """Events as producers put them on the stream: mostly valid, with the raw zone's usual mess
    (duplicates, untidy values, invalid rows) and a few records no transform can parse."""
    spec = importlib.util.spec_from_file_location("rehearsal_synthetic_events", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    events: list = module.make_events(count, seed=11, messy=True)
    random.Random(3).shuffle(events)
    return events + [b"{not json", b"\xff\xfe not utf-8", b"[1, 2]"]


def training_pipeline(assembly: Assembly) -> tuple[dict, str]:
    pipeline = next(assembly.resources("AWS::SageMaker::Pipeline"))
    body = pipeline.properties["PipelineDefinition"]["PipelineDefinitionBody"]
    return json.loads(assembly.sub(body, pipeline.stack)), pipeline.properties["PipelineName"]


def serve_and_check(ex: Execution, test_uri: str, input_filter: str | None) -> dict:
    """The registered container answers encoded test rows exactly as its booster predicts them."""
    container = ex.registered[0]["InferenceSpecification"]["Containers"][0]
    content_type = ex.registered[0]["InferenceSpecification"]["SupportedContentTypes"][0]
    rows = [checks.apply_input_filter(r, input_filter) for r in checks.csv_rows(ex.s3.path(test_uri))[:200]]
    with model_server(ex, "endpoint", container) as port:
        body = "\n".join(",".join(r) for r in rows).encode()
        status, answer_type, answer = request(port, "POST", "/invocations", body,
                                              {"Content-Type": content_type, "Accept": "text/csv"})
        if status != 200:
            raise StepFailed(f"endpoint answered {status}: {answer[:300]!r}")
        served = checks.parse_predictions(answer_type, answer)
    expected, features = checks.booster_predictions(ex.job_root("endpoint") / "model", rows)
    if len(rows[0]) != features:
        raise StepFailed(f"requests carry {len(rows[0])} features, the model expects {features}")
    if len(served) != len(rows):
        raise StepFailed(f"{len(rows)} records sent, {len(served)} predictions answered")
    return {"records": len(rows), "features": features, "content_type": content_type,
            "max_abs_diff_vs_booster": float(abs(expected - served).max())}


def batch_transform(ex: Execution, transform: dict) -> dict:
    """The pipeline's transform step: Line split, InputFilter, joined with its input."""
    from sklearn.metrics import roc_auc_score

    model = ex.models[transform["ModelName"]]["PrimaryContainer"]
    source = transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    processing = transform.get("DataProcessing", {})
    rows = checks.csv_rows(ex.s3.path(source))
    env = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "6"}
    joined = []
    with model_server(ex, "transform", model, env) as port:
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            body = "\n".join(",".join(checks.apply_input_filter(r, processing.get("InputFilter"))) for r in chunk)
            status, answer_type, answer = request(port, "POST", "/invocations", body.encode(), {
                "Content-Type": transform["TransformInput"]["ContentType"], "Accept": transform["TransformOutput"]["Accept"]})
            if status != 200:
                raise StepFailed(f"transform answered {status}: {answer[:300]!r}")
            scores = checks.parse_predictions(answer_type, answer)
            joined += [r + [f"{s:.9g}"] for r, s in zip(chunk, scores, strict=True)]
    out = ex.s3.path(transform["TransformOutput"]["S3OutputPath"].rstrip("/") + "/test.csv.out")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(",".join(r) for r in joined) + "\n")
    auc = roc_auc_score([float(r[0]) for r in joined], [float(r[-1]) for r in joined])
    return {"records": len(joined), "auc_from_joined_output": round(float(auc), 6), "output": str(out)}


def run_data_platform(assembly: Assembly, s3: LocalS3, jobs: list, root: Path, events: int, report: dict,
                      started: float) -> None:
    """Producer -> Firehose transform -> raw zone, then the Glue workflow's jobs in order."""
    report["ingestion"] = ingest.deliver(assembly, s3, producer_events(events), root / "logs" / "firehose-transform.log")
    _stage("firehose transform", started, **report["ingestion"]["by_result"], partitions=report["ingestion"]["partitions"])
    for job in jobs:
        summary = etl.run_job(assembly, s3, job, root / "logs")
        report[job.properties["Name"]] = summary
        _stage(job.properties["Name"], started, **{k: v for k, v in summary.items() if isinstance(v, (int, float))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO / ".rehearsal")
    parser.add_argument("--events", type=int, default=8000)
    parser.add_argument("--after-etl", action="store_true",
                        help="keep the previous run's lake and start at the training pipeline (faster iterations)")
    options = parser.parse_args(argv)
    root = options.root.resolve()
    started = time.perf_counter()
    if options.after_etl:
        shutil.rmtree(root / "jobs", ignore_errors=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
    assembly = Assembly(synthesize("dev", root / "cdk.out", root / "logs" / "synth.log"))
    _stage("synthesized Dev", started, stacks=len(assembly.templates))
    s3 = LocalS3(root / "s3", assembly)
    report: dict = {}
    jobs = etl.workflow_jobs(assembly)
    if not options.after_etl:
        run_data_platform(assembly, s3, jobs, root, options.events, report, started)
    csv_prefix = jobs[-1].properties["DefaultArguments"]["--csv_output_path"]
    rule = etl.check_training_trigger(assembly, s3, csv_prefix.rstrip("/") + "/_SUCCESS")
    definition, pipeline_name = training_pipeline(assembly)
    expr = Expressions(definition["Parameters"], execution_id="rehearsal0001")
    if expr.parameters.get("InputDataUri") != csv_prefix:
        raise StepFailed(f"the pipeline reads {expr.parameters.get('InputDataUri')} but the ETL writes {csv_prefix}")
    _stage("training trigger", started, rule=rule, pipeline=pipeline_name)
    ex = Execution(root=root, s3=s3, expr=expr)
    run_steps(ex, definition["Steps"], None)
    report["pipeline"] = ex.report
    evaluation = json.loads(expr.property_files[("Evaluate", "EvaluationReport")].read_text())
    auc = evaluation["binary_classification_metrics"]["auc"]["value"]
    _stage("training pipeline", started, best=ex.report["tuning"]["trials"][0]["objective"], test_auc=round(auc, 4),
           registered=len(ex.registered))
    transform = ex.transforms[0]
    report["endpoint"] = serve_and_check(ex, transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
                                         transform.get("DataProcessing", {}).get("InputFilter"))
    _stage("endpoint", started, **{k: v for k, v in report["endpoint"].items() if k != "content_type"})
    report["batch_transform"] = batch_transform(ex, transform)
    if abs(report["batch_transform"]["auc_from_joined_output"] - auc) > 1e-6:
        raise StepFailed(f"batch transform AUC {report['batch_transform']['auc_from_joined_output']} != evaluation {auc}")
    _stage("batch transform", started, records=report["batch_transform"]["records"],
           auc=report["batch_transform"]["auc_from_joined_output"])
    (root / "rehearsal.json").write_text(json.dumps(report, indent=2, default=str))
    for warning in ex.report.get("serving_warnings", []):
        print(f"warning: {warning}")
    print(f"rehearsal passed in {time.perf_counter() - started:.0f} s; report {root / 'rehearsal.json'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except StepFailed as failure:
        print(f"rehearsal failed: {failure}", file=sys.stderr)
        sys.exit(1)
