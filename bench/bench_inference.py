"""Inference benchmark: our handler and server versus the stock SageMaker XGBoost serving path.

1. In-process latency per request (p50/p99) for 1, 100 and 1,000-row CSV bodies: our path
   (serving_codec.decode -> Predictor.predict -> encode) against the stock container's
   (csv.Sniffer, split every line, '' -> 'nan', numpy array of strings cast to float, DMatrix,
   Booster.predict, json.dumps), reimplemented below as the container's encoder.py does it.
2. Server throughput (req/s) and p99 for 1-row CSV at fixed concurrency on 127.0.0.1: serve.py
   against Multi Model Server + sagemaker-inference (one Python worker per CPU, 6 MB cap) running
   the stock path, as the container serves it. The baseline's packages live in their own venv,
   .venv-bench-serving/, created here on first run with pinned versions. Load comes from wrk if
   installed, else a bounded asyncio client with keep-alive connections.
Runs are interleaved (ours, stock, ours, stock...) and medians quoted: the machine is shared.
"""
from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import xgboost as xgb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "training_code"))
import serving_codec as codec  # noqa: E402
from serving_model import load_predictor  # noqa: E402

RESULTS = REPO / "bench_results" / "bench_inference.json"
N_FEATURES = 50
SIZES = {1: 3000, 100: 300, 1000: 40}  # rows -> timed requests per side
CONCURRENCY, SECONDS, ROUNDS = 16, 8, 2


def model_dir(root: Path) -> tuple[Path, str]:
    """The rehearsal's trained model if present, else a 100-tree depth-6 50-feature binary model."""
    rehearsal = REPO / ".rehearsal" / "model" / "xgboost-model"
    target = root / "model"
    target.mkdir(parents=True)
    if rehearsal.is_file():
        shutil.copy(rehearsal, target / "xgboost-model")
        return target, f"rehearsal model ({rehearsal.relative_to(REPO)})"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, N_FEATURES)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2]) > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 6}, xgb.DMatrix(x, y), 100)
    booster.save_model(str(target / "xgboost-model.ubj"))
    (target / "xgboost-model.ubj").rename(target / "xgboost-model")
    return target, "trained here: 100 trees, depth 6, 50 features, binary:logistic"


def load_booster(model: Path) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray((model / "xgboost-model").read_bytes()))  # no extension warning
    return booster


def csv_body(rows: int, n_features: int, seed: int = 1) -> bytes:
    values = np.random.default_rng(seed).normal(size=(rows, n_features))
    return "\n".join(",".join(f"{v:.6g}" for v in row) for row in values).encode()


def stock_csv_to_dmatrix(body: bytes | str) -> xgb.DMatrix:
    """The stock container's CSV decoding (sagemaker_xgboost_container/encoder.py), as it is."""
    text = body.decode() if isinstance(body, bytes) else body
    sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    delimiter = "," if sniffed.isalnum() else sniffed
    cells = [["nan" if x == "" else x for x in line.split(delimiter)] for line in text.split("\n")]
    return xgb.DMatrix(np.array(cells).astype(None))


def stock_request(booster: xgb.Booster, body: bytes) -> bytes:
    prediction = booster.predict(stock_csv_to_dmatrix(body), validate_features=False)
    return json.dumps(prediction.tolist()).encode()


def our_request(predictor, body: bytes) -> bytes:
    rows = codec.decode(body, "text/csv", predictor.n_features)
    return codec.encode(predictor.predict(rows), codec.JSON)


def in_process(model: Path) -> list[dict]:
    """Interleaved per-request latency, ours vs stock, on the same booster settings."""
    predictor = load_predictor(model)
    booster = load_booster(model)
    out = []
    for rows, count in SIZES.items():
        body = csv_body(rows, predictor.n_features)
        assert np.allclose(json.loads(our_request(predictor, body))["predictions"],
                           json.loads(stock_request(booster, body)), atol=1e-6)
        ours, stock = [], []
        for _ in range(count):
            for fn, arg, sink in ((our_request, predictor, ours), (stock_request, booster, stock)):
                start = time.perf_counter()
                fn(arg, body)
                sink.append((time.perf_counter() - start) * 1e6)
        row = {"rows": rows, "ours_p50_us": np.percentile(ours, 50), "ours_p99_us": np.percentile(ours, 99),
               "stock_p50_us": np.percentile(stock, 50), "stock_p99_us": np.percentile(stock, 99)}
        row["speedup_p50"] = row["stock_p50_us"] / row["ours_p50_us"]
        out.append({k: round(float(v), 2) if isinstance(v, float) else v for k, v in row.items()})
    return out, predictor.note


def servers(root: Path, n_features: int) -> dict:
    """Interleaved load runs against our server and the MMS stack; medians per side."""
    body = csv_body(1, n_features)
    runs = {"ours": [], "stock": []}
    ours = start_ours(root)
    try:
        mms, stack = start_mms(root, REPO / ".venv-bench-serving", stock_source())
    except RuntimeError as error:
        stop(ours)
        return {"error": f"baseline server did not start: {error}"}
    try:
        for _ in range(ROUNDS):
            for name, server in (("ours", ours), ("stock", mms)):
                runs[name].append(run_load(server["port"], body, CONCURRENCY, SECONDS))
    finally:
        stop(ours)
        stop(mms)
    summary = {"stack": stack, "concurrency": CONCURRENCY, "seconds_per_run": SECONDS,
               "loadgen": runs["ours"][0]["loadgen"], "runs": runs}
    for name in runs:
        summary[f"{name}_rps"] = float(np.median([r["rps"] for r in runs[name]]))
        summary[f"{name}_p99_ms"] = float(np.median([r["p99_ms"] for r in runs[name]]))
        summary[f"{name}_errors"] = sum(r["errors"] for r in runs[name])
    summary["throughput_ratio"] = summary["ours_rps"] / max(summary["stock_rps"], 1e-9)
    return summary


def stock_source() -> str:
    """The MMS handler module: sagemaker-inference's Transformer running the stock path."""
    import inspect

    return "\n".join([
        "import csv, json, os", "import numpy as np", "import xgboost as xgb",
        "from sagemaker_inference import default_inference_handler, encoder",
        "from sagemaker_inference.default_handler_service import DefaultHandlerService",
        "from sagemaker_inference.transformer import Transformer",
        inspect.getsource(stock_csv_to_dmatrix),
        "class Stock(default_inference_handler.DefaultInferenceHandler):",
        "    def default_model_fn(self, model_dir):",
        "        return xgb.Booster(model_file=os.path.join(model_dir, 'xgboost-model'))",
        "    def default_input_fn(self, data, content_type):",
        "        return stock_csv_to_dmatrix(data)",
        "    def default_predict_fn(self, data, model):",
        "        return model.predict(data, validate_features=False)",
        "    def default_output_fn(self, prediction, accept):",
        "        return encoder.encode(prediction, accept)",
        "_service = DefaultHandlerService(transformer=Transformer(default_inference_handler=Stock()))",
        "def handle(data, context):",  # MMS calls it once with no data to initialize
        "    if data is None:",
        "        return _service.initialize(context)",
        "    for item in data:",  # MMS 1.1 hands text bodies over as str; the toolkit wants bytes
        "        if isinstance(item.get('body'), str):",
        "            item['body'] = item['body'].encode()",
        "    return _service.handle(data, context)",
    ]) + "\n"

# ---- servers and load (kept in this module: bench/ holds one file per benchmark) ----
BASELINE_PINS = ["multi-model-server==1.1.11", "sagemaker-inference==1.10.1", "model-archiver==1.0.3",
                 "retrying==1.3.7", "xgboost-cpu==3.2.0", "numpy==2.4.6", "scipy==1.17.1",
                 "psutil==7.2.2", "six==1.17.0"]


def free_port(below: int | None = None) -> int:
    """A free 127.0.0.1 port; ``below`` for MMS, which refuses ports of 32768 and up."""
    candidates = [0] if below is None else np.random.default_rng().permutation(range(20000, below))
    for candidate in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", int(candidate)))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def wait_ping(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline, streak = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and streak < 10:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as reply:
                streak = streak + 1 if reply.status == 200 else 0
        except OSError:
            streak = 0
            time.sleep(0.3)
    if streak < 10:
        raise RuntimeError("/ping never became healthy")


def start_ours(root: Path) -> dict:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "training_code" / "serve.py"), "--root", str(root),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ping(port, process)
    return {"port": port, "process": process}


def baseline_python(venv: Path) -> Path:
    """The baseline's own venv with pinned packages, created on first run (never the project's)."""
    stamp = venv / (".installed-" + str(abs(hash(tuple(BASELINE_PINS))) % 10**8))
    python = venv / "bin" / "python"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *BASELINE_PINS], check=True)
        stamp.touch()
    return python


def start_mms(root: Path, venv: Path, handler_source: str) -> tuple[dict, str]:
    """Multi Model Server + sagemaker-inference, one worker per CPU, running the stock handler."""
    if not shutil.which("java"):
        raise RuntimeError("java not found")
    python = baseline_python(venv)
    src, store, work = root / "mms-src", root / "mms-store", root / "mms-work"
    for folder in (src, store, work):
        folder.mkdir()
    shutil.copy(root / "model" / "xgboost-model", src / "xgboost-model")
    (src / "stock_service.py").write_text(handler_source)
    subprocess.run([str(venv / "bin" / "model-archiver"), "--model-name", "model", "--handler",
                    "stock_service:handle", "--model-path", str(src), "--export-path", str(store),
                    "--archive-format", "no-archive"], check=True)
    port, management = free_port(below=32768), free_port(below=32768)
    (work / "config.properties").write_text(
        f"inference_address=http://127.0.0.1:{port}\nmanagement_address=http://127.0.0.1:{management}\n"
        f"model_store={store}\nload_models=model\ndefault_workers_per_model={os.cpu_count()}\n"
        "max_request_size=6291456\ndefault_response_timeout=60\n")
    env = {**os.environ, "PATH": f"{python.parent}:{os.environ['PATH']}",
           "SAGEMAKER_PROGRAM": "no_user_module", "SAGEMAKER_MAX_REQUEST_SIZE": "6291456",
           "TMPDIR": str(work)}  # MMS keeps a pid file in TMPDIR: a stale one makes it exit
    process = subprocess.Popen(
        [str(venv / "bin" / "multi-model-server"), "--start", "--foreground",
         "--mms-config", str(work / "config.properties"), "--model-store", str(store)],
        cwd=work, env=env, stdout=(work / "mms.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    server = {"port": port, "process": process}
    try:
        wait_ping(port, process)
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=csv_body(1, 2), method="POST",
            headers={"Content-Type": "text/csv"}), timeout=60).read()
    except Exception as error:  # noqa: BLE001 - report why, clean up, let the caller decide
        stop(server)
        tail = (work / "mms.log").read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{error}; log tail: {tail}") from None
    return server, f"MMS 1.1.11 + sagemaker-inference 1.10.1, {os.cpu_count()} workers"


def stop(server: dict) -> None:
    """Stop a server we started, with its whole process group (MMS runs Java under Python)."""
    process = server["process"]
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def run_load(port: int, body: bytes, connections: int, seconds: int) -> dict:
    """Fixed-concurrency load: wrk when installed, else the bounded asyncio client below."""
    if shutil.which("wrk"):
        return _wrk(port, body, connections, seconds)
    return asyncio.run(_python_load(port, body, connections, seconds))


def _wrk(port: int, body: bytes, connections: int, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
                     'wrk.headers["Content-Type"] = "text/csv"\n')
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                              "-s", script.name, f"http://127.0.0.1:{port}/invocations"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"loadgen": "wrk", "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p99_ms": float(p99.group(1)) * scale, "errors": int(errors.group(1)) if errors else 0}


async def _python_load(port: int, body: bytes, connections: int, seconds: int) -> dict:
    request = (f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies, errors = [], [0]
    deadline = time.perf_counter() + seconds

    async def one_connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            errors[0] += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return {"loadgen": f"python asyncio client, {connections} keep-alive connections",
            "rps": len(latencies) / seconds, "p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "errors": errors[0]}


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    try:
        model, origin = model_dir(root)
        latency, note = in_process(model)
        n_features = load_booster(model).num_features()
        server = servers(root, n_features)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = {"model": origin, "cpus": os.cpu_count(), "predictor": note,
              "in_process": latency, "server_1_row_csv": server}
    print(f"model: {origin}; {note}")
    print(f"{'rows':>6} {'ours p50 us':>12} {'ours p99 us':>12} {'stock p50 us':>13} "
          f"{'stock p99 us':>13} {'speedup p50':>12}")
    for r in latency:
        print(f"{r['rows']:>6} {r['ours_p50_us']:>12.1f} {r['ours_p99_us']:>12.1f} "
              f"{r['stock_p50_us']:>13.1f} {r['stock_p99_us']:>13.1f} {r['speedup_p50']:>11.1f}x")
    if "error" in server:
        print(server["error"])
    else:
        print(f"\nserver, 1-row CSV, {server['concurrency']} connections, {server['loadgen']}, "
              f"median of {ROUNDS} interleaved {SECONDS}s runs")
        print(f"{'server':<44} {'req/s':>9} {'p99 ms':>8} {'errors':>7}")
        print(f"{'ours (serve.py, pre-forked, 1 worker/CPU)':<44} {server['ours_rps']:>9.0f} "
              f"{server['ours_p99_ms']:>8.2f} {server['ours_errors']:>7}")
        print(f"{server['stack'][:44]:<44} {server['stock_rps']:>9.0f} "
              f"{server['stock_p99_ms']:>8.2f} {server['stock_errors']:>7}")
        print(f"throughput ratio: {server['throughput_ratio']:.1f}x")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
