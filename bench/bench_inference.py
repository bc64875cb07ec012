"""Inference benchmark: our handler and server versus the stock SageMaker XGBoost serving path.

Always on its own fixed model (100 trees, depth 6, 50 features, binary:logistic, trained here with
a fixed seed), so figures compare from run to run whatever else is on the machine.
1. In-process latency per request (p50/p99) for 1, 100 and 1,000-row CSV bodies: our path
   (serving_codec.decode -> model.predict -> serving_output.encode), once per small-batch
   evaluator (compiled, numpy), against the stock container's (csv.Sniffer, split every line,
   '' -> 'nan', numpy array of strings cast to float, DMatrix, Booster.predict, json.dumps),
   reimplemented below as the container's encoder.py does it.
2. Server throughput (req/s) and p99 for 1-row CSV at fixed concurrency on 127.0.0.1: serve.py
   against Multi Model Server + sagemaker-inference (bench/mms_stack.py: one Python worker per
   CPU, 6 MB cap) running the stock path, as the container serves it. Load comes from wrk if
   installed (`make bench` installs it), else a bounded asyncio client; each row says which.
   Also the CPU time each server spends per request (its whole process tree), which a busy
   shared machine distorts far less than req/s.
Runs are interleaved (ours, stock, ours, stock...; in-process in short blocks) and medians quoted:
the machine is shared, and the load average before and after is printed with the figures.
"""
from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xgboost as xgb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "training_code"))
import serving_codec as codec  # noqa: E402
import serving_output as output  # noqa: E402
from bench.mms_stack import free_port, start_mms, stop, wait_ping  # noqa: E402
from serving_model import load_model  # noqa: E402

RESULTS = REPO / "bench_results" / "bench_inference.json"
N_FEATURES = 50
SIZES = {1: 3000, 100: 300, 1000: 40}  # rows -> timed requests per side
EVALUATORS = ("compiled", "numpy")
CONCURRENCY, SECONDS, ROUNDS = 16, 8, 3
MODEL = "trained here: 100 trees, depth 6, 50 features, binary:logistic, seed 0"


def model_dir(root: Path) -> Path:
    """The benchmark's own model: the same trees on every run and machine."""
    target = root / "model"
    target.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, N_FEATURES)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2]) > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "seed": 0, "nthread": 1},
                        xgb.DMatrix(x, y), 100)
    (target / "xgboost-model").write_bytes(bytes(booster.save_raw("ubj")))
    return target


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


def our_request(model, body: bytes) -> bytes:
    rows = codec.decode(body, "text/csv", model.n_features)
    return output.encode(model.predict(rows), codec.JSON, model.output)[0]


def in_process(model_path: Path) -> tuple[list[dict], dict]:
    """Interleaved per-request latency: ours (each evaluator) and stock, the same booster settings."""
    models = {name: load_model(model_path, nthread=1, evaluator=name) for name in EVALUATORS}
    booster = load_booster(model_path)
    booster.set_param({"nthread": 1})  # the built-in sets nthread=1 per worker, as we do
    out = []
    for rows, count in SIZES.items():
        body = csv_body(rows, N_FEATURES)
        sides = {name: (our_request, model) for name, model in models.items()}
        sides["stock"] = (stock_request, booster)
        for name, model in models.items():
            ours = [item["score"] for item in json.loads(our_request(model, body))["predictions"]]
            assert np.allclose(ours, json.loads(stock_request(booster, body)), atol=1e-6), name
        times = {name: [] for name in sides}
        block = max(1, count // 60)
        for _ in range(0, count, block):
            # Interleaved in short blocks rather than request by request: right after the stock
            # side's DMatrix, libgomp's worker threads still spin-wait, and the next request timed
            # (of either side) would pay for them.
            for name, (fn, arg) in sides.items():
                for _ in range(block):
                    start = time.perf_counter()
                    fn(arg, body)
                    times[name].append((time.perf_counter() - start) * 1e6)
        row = {"rows": rows}
        for name, samples in times.items():
            row[f"{name}_p50_us"] = round(float(np.percentile(samples, 50)), 2)
            row[f"{name}_p99_us"] = round(float(np.percentile(samples, 99)), 2)
        for name in EVALUATORS:
            row[f"{name}_speedup_p50"] = round(row["stock_p50_us"] / row[f"{name}_p50_us"], 2)
        out.append(row)
    return out, {name: model.note for name, model in models.items()}


def servers(root: Path, n_features: int) -> dict:
    """Interleaved load runs against our server and the MMS stack; medians per side."""
    body = csv_body(1, n_features)
    runs = {"ours": [], "stock": []}
    ours = start_ours(root)
    try:
        mms, stack = start_mms(root, stock_source(), root / "model")
    except RuntimeError as error:
        stop(ours)
        return {"error": f"baseline server did not start: {error}"}
    cpu = {"ours": [], "stock": []}
    try:
        for _ in range(ROUNDS):
            for name, server in (("ours", ours), ("stock", mms)):
                runs[name].append(run_load(server["port"], body, CONCURRENCY, SECONDS))
                cpu[name].append(cpu_per_request(server, body))
    finally:
        stop(ours)
        stop(mms)
    summary = {"stack": stack, "concurrency": CONCURRENCY, "seconds_per_run": SECONDS,
               "loadgen": {name: sorted({r["loadgen"] for r in runs[name]}) for name in runs},
               "runs": runs}
    for name in runs:
        summary[f"{name}_rps"] = float(np.median([r["rps"] for r in runs[name]]))
        summary[f"{name}_p99_ms"] = float(np.median([r["p99_ms"] for r in runs[name]]))
        summary[f"{name}_errors"] = sum(r["errors"] for r in runs[name])
        summary[f"{name}_cpu_us_per_request"] = float(np.median(cpu[name]))
    summary["throughput_ratio"] = summary["ours_rps"] / max(summary["stock_rps"], 1e-9)
    summary["cpu_ratio"] = summary["stock_cpu_us_per_request"] / summary["ours_cpu_us_per_request"]
    return summary


def cpu_per_request(server: dict, body: bytes, count: int = 1000) -> float:
    """CPU time (user + system, the server's whole process tree) per sequential keep-alive
    request: a cost figure that a busy shared machine distorts far less than req/s."""
    import http.client

    import psutil

    def tree_cpu() -> float:
        root = psutil.Process(server["process"].pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=60)
    headers = {"Content-Type": "text/csv"}

    def send(n: int) -> None:
        for _ in range(n):
            connection.request("POST", "/invocations", body=body, headers=headers)
            connection.getresponse().read()

    send(50)
    before = tree_cpu()
    send(count)
    used = tree_cpu() - before
    connection.close()
    return used / count * 1e6


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

# ---- our server and load (kept in this module: bench/ holds one file per benchmark) ----
def start_ours(root: Path) -> dict:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "training_code" / "serve.py"), "--root", str(root),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ping(port, process)
    return {"port": port, "process": process}


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


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    before = load_average()
    try:
        model = model_dir(root)
        latency, notes = in_process(model)
        server = servers(root, N_FEATURES)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = {"model": MODEL, "cpus": os.cpu_count(), "predictor": notes,
              "load_average_before_after": [before, load_average()],
              "in_process": latency, "server_1_row_csv": server}
    print(f"model: {MODEL}; {os.cpu_count()} CPUs; load average before {before}, "
          f"after {report['load_average_before_after'][1]}")
    for name, note in notes.items():
        print(f"  {name}: {note}")
    print(f"\n{'rows':>5} " + " ".join(f"{n + ' p50 us':>17}" for n in (*EVALUATORS, "stock"))
          + " " + " ".join(f"{n + ' speedup':>17}" for n in EVALUATORS))
    for r in latency:
        print(f"{r['rows']:>5} " + " ".join(f"{r[n + '_p50_us']:>17.1f}" for n in (*EVALUATORS, "stock"))
              + " " + " ".join(f"{r[n + '_speedup_p50']:>16.1f}x" for n in EVALUATORS))
    if "error" in server:
        print(server["error"])
    else:
        print(f"\nserver, 1-row CSV, {server['concurrency']} connections, "
              f"median of {ROUNDS} interleaved {SECONDS}s runs")
        labels = {"ours": "ours (serve.py, pre-forked, 1 worker/CPU)", "stock": server["stack"]}
        width = max(len(label) for label in labels.values())
        print(f"{'server':<{width}} {'req/s':>9} {'p99 ms':>8} {'errors':>7}  load generator")
        for name, label in labels.items():
            print(f"{label:<{width}} {server[name + '_rps']:>9.0f} {server[name + '_p99_ms']:>8.2f} "
                  f"{server[name + '_errors']:>7}  {', '.join(server['loadgen'][name])}")
        print(f"throughput ratio: {server['throughput_ratio']:.1f}x")
        print(f"CPU per request (server process tree, {ROUNDS} sequential runs of 1,000, median): "
              f"ours {server['ours_cpu_us_per_request']:.0f} us, stock "
              f"{server['stock_cpu_us_per_request']:.0f} us, ratio {server['cpu_ratio']:.1f}x")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
