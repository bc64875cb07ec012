"""Rehearsal of model monitoring, after `scripts/rehearse.py`: no AWS account.

    .venv/bin/python scripts/rehearse_monitoring.py [--root .rehearsal]

1. The baseline step (`training_code/baseline.py`) on the rehearsal's train split, with the model
   and the test split: statistics, constraints, prediction and model-quality baselines.
2. The rehearsal model served by `training_code/serve.py` on 127.0.0.1.
3. Traffic: every row of the validation and test splits (never trained on), in a shuffled order,
   with one feature shifted by 1.5 standard deviations; 10% sent as JSON, the rest as CSV. This script
   plays the endpoint's capture layer: it writes each request and response in SageMaker's
   data-capture format (`<endpoint>/AllTraffic/yyyy/mm/dd/hh/*.jsonl`), plus two broken lines,
   and ground truth for every request keyed by its inference id.
4. The monitor (`training_code/monitor.py`) on that window, as the processing job runs it; it
   prints what it flags and writes `report.html` under <root>/monitoring/report/.
The rehearsal data set is small (398 training rows, 171 traffic rows), so drift uses Model
Monitor's `Robust` comparison: the distance must also beat the KS critical value (0.125 here), so
sampling noise between two small samples does not read as drift. Rows are sent once each, not
resampled: repeating rows would shrink that critical value without adding information.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CODE = REPO / "training_code"
ENDPOINT, DRIFTED = "rehearsal-endpoint", 3  # _c3: mean area of the breast-cancer features


def _run(*args: str) -> str:
    cmd = [sys.executable, *args]
    print(f"$ {' '.join(Path(a).name if a.endswith('.py') else a for a in cmd[1:])}", flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(model_dir: Path) -> tuple[subprocess.Popen, int]:
    """serve.py as the container starts it, until /ping answers 200."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(CODE / "serve.py"), "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--workers", "1"],
                               env={**os.environ, "SM_MODEL_DIR": str(model_dir)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("serve.py did not answer /ping within 60 s")


def traffic(processing: Path, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of validation+test, shuffled, feature DRIFTED shifted by 1.5 sd."""
    rows = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for split in ("validation", "test")
                      for f in sorted((processing / split).glob("*.csv"))])
    pick = np.random.default_rng(seed).permutation(len(rows))
    labels, features = rows[pick, 0], rows[pick, 1:].copy()
    features[:, DRIFTED] += 1.5 * rows[:, 1 + DRIFTED].std()
    return features, labels


def _part(mode: str, content_type: str, body: str) -> dict:
    encoding = "CSV" if content_type == "text/csv" else "JSON"
    return {"observedContentType": content_type, "mode": mode, "data": body, "encoding": encoding}


def send_and_capture(port: int, features: np.ndarray, labels: np.ndarray, folder: Path) -> tuple[Path, Path]:
    """Invoke the server once per row; write capture and ground-truth files as SageMaker would."""
    now = datetime.now(timezone.utc)
    hour = now.strftime("%Y/%m/%d/%H")
    capture = folder / "capture" / ENDPOINT / "AllTraffic" / hour / f"{now:%M-%S}-000-{uuid.uuid4()}.jsonl"
    truth = folder / "ground-truth" / ENDPOINT / hour / "labels.jsonl"
    capture.parent.mkdir(parents=True)
    truth.parent.mkdir(parents=True)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with open(capture, "w") as cap, open(truth, "w") as gt:
        for i, (row, label) in enumerate(zip(features, labels, strict=False)):
            as_json = i % 10 == 0
            kind = "application/json" if as_json else "text/csv"
            body = json.dumps({"instances": [row.tolist()]}) if as_json else ",".join(repr(float(v)) for v in row)
            connection.request("POST", "/invocations", body=body, headers={
                "Content-Type": kind, "Accept": "application/json"})
            response = connection.getresponse()
            answer = response.read().decode()
            if response.status != 200:
                raise SystemExit(f"/invocations answered {response.status}: {answer[:200]}")
            inference_id = f"rehearsal-{i:05d}"
            cap.write(json.dumps({"captureData": {"endpointInput": _part("INPUT", kind, body),
                                                  "endpointOutput": _part("OUTPUT", "application/json", answer)},
                                  "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceId": inference_id,
                                                    "inferenceTime": datetime.now(timezone.utc).isoformat()},
                                  "eventVersion": "0"}) + "\n")
            gt.write(json.dumps({"groundTruthData": {"data": str(int(label)), "encoding": "CSV"},
                                 "eventMetadata": {"eventId": inference_id}, "eventVersion": "0"}) + "\n")
        # Two lines no reader can use: counted and reported, the run goes on.
        cap.write('{"captureData": {"endpointInput": {"observedContentType": "text/csv", "da\n')
        cap.write(json.dumps({"captureData": {"endpointInput": _part("INPUT", "text/csv", "1,2,3")}}) + "\n")
    return capture.parent.parents[4], truth.parents[4]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve, capture drifted traffic, monitor it")
    parser.add_argument("--root", type=Path, default=REPO / ".rehearsal")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    processing, model, artifact = root / "processing", root / "model", root / "output" / "model.tar.gz"
    if not (model / "xgboost-model").is_file() or not (processing / "train").is_dir():
        raise SystemExit(f"{root}: no rehearsal model or splits; run scripts/rehearse.py first (make rehearse)")
    folder = root / "monitoring"
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    baseline = folder / "baseline"
    _run(str(CODE / "baseline.py"), "--train-dir", str(processing / "train"), "--test-dir", str(processing / "test"),
         "--model-path", str(artifact), "--output-dir", str(baseline), "--comparison-method", "Robust")
    process, port = serve(model)
    try:
        features, labels = traffic(processing)
        started = time.perf_counter()
        capture_dir, labels_dir = send_and_capture(port, features, labels, folder)
        print(f"sent {len(features)} requests to serve.py on 127.0.0.1:{port} in "
              f"{time.perf_counter() - started:.1f} s; feature _c{DRIFTED} shifted by 1.5 sd")
    finally:
        process.terminate()
        process.wait(timeout=10)
    out = _run(str(CODE / "monitor.py"), "--endpoint", ENDPOINT, "--baseline-dir", str(baseline),
               "--capture-dir", str(capture_dir), "--labels-dir", str(labels_dir), "--output-dir", str(folder / "report"))
    summary = json.loads((folder / "report" / "summary.json").read_text())
    print(f"\nmonitoring ({ENDPOINT}): {summary['records_read']} records read, {summary['malformed_records']} malformed "
          f"({', '.join(f'{k}: {v}' for k, v in summary['malformed'].items())}), {summary['rows']} rows analysed")
    print(f"  drifted features: {', '.join(summary['drifted_features']) or 'none'}")
    for feature in sorted(summary["features"], key=lambda f: -(f["distance"] or 0))[:3]:
        print(f"    {feature['name']:6} distance {feature['distance']:.3f} (threshold {feature['threshold']})")
    print(f"  prediction drift: {summary['prediction_drift']:.3f}{' (flagged)' if summary['prediction_drifted'] else ''}")
    quality = summary["model_quality"]
    print(f"  model quality on {quality['rows']} labelled rows: " + ", ".join(
        f"{k} {v:.3f}" for k, v in quality["metrics"].items()))
    print("  violations:\n" + "\n".join(f"    {line[len('violation: '):]}" for line in out.splitlines()
                                         if line.startswith("violation: ")) if summary["violations"] else "  violations: none")
    print(f"report: {folder / 'report' / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
