"""Throughput of the Firehose transform handler on a 500-record, ~1 MB Kinesis-source batch.

Mix: ~90% valid events (each padded with an unknown ~1.6 KB `context` field, which the
transform strips), 4% heartbeats (Dropped), 6% invalid records of several kinds. Figures:
median records/s and MB/s over interleaved repeats of two variants — the default settings
and a tight response budget that forces the budget path — written to
bench_results/bench_firehose_transform.json.
"""
from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import random
import statistics
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_DIR = ROOT / "lambda" / "firehose_transform"
RECORDS, REPEATS = 500, 15


def _load_handler():
    sys.path.insert(0, str(LAMBDA_DIR))
    spec = importlib.util.spec_from_file_location("bench_firehose_handler", LAMBDA_DIR / "handler.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_batch(seed: int = 1) -> dict:
    """A Kinesis-source Firehose event of RECORDS records, ~1 MB of decoded data."""
    rng = random.Random(seed)
    records = []
    for i in range(RECORDS):
        event = {"event_id": f"bench-{i:06d}", "event_time": f"2024-05-0{1 + i % 9}T12:{i % 60:02d}:00.{i % 1000:03d}+02:00",
                 "customer_id": f"cust-{rng.randrange(10**6):07d}", "merchant_id": f"m-{rng.randrange(10**5):06d}",
                 "merchant_category": rng.choice(["Grocery", "travel ", "fuel"]), "channel": rng.choice(["WEB", "pos", "mobile"]),
                 "country": rng.choice(["de", "US", "fr"]), "device_type": "phone", "amount": str(round(rng.lognormvariate(3.4, 1.1), 2)),
                 "account_age_days": rng.randrange(5000), "num_prev_transactions": rng.randrange(900), "is_fraud": int(rng.random() < 0.03),
                 "context": "x" * 1600}
        roll = i % 50
        if roll < 2:
            event = {"event_type": "heartbeat", "producer": "pos-gw"}
        elif roll == 2:
            event["amount"] = "n/a"
        elif roll == 3:
            event["channel"] = "atm"
        data = json.dumps(event).encode()
        if roll == 4:
            data = data[:-20]  # truncated JSON
        records.append({"recordId": f"{49640000000 + i}000000", "approximateArrivalTimestamp": 1714554902123 + i,
                        "data": base64.b64encode(data).decode(),
                        "kinesisRecordMetadata": {"shardId": "shardId-000000000001", "partitionKey": event.get("customer_id", "hb"),
                                                  "approximateArrivalTimestamp": 1714554902123 + i,
                                                  "sequenceNumber": f"{49640000000 + i}", "subsequenceNumber": 0}})
    return {"invocationId": "bench", "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/bench",
            "sourceKinesisStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/bench", "region": "eu-west-1",
            "records": records}


def _run(handler, event: dict) -> tuple[float, dict]:
    sink = io.StringIO()
    start = time.perf_counter()
    with redirect_stdout(sink):  # the JSON log lines are part of the work, not of the output
        response = handler.handler(event, None)
    return time.perf_counter() - start, response


def main() -> None:
    """Interleave the variants REPEATS times; print and save medians."""
    handler = _load_handler()
    event = make_batch()
    decoded_mb = sum(len(base64.b64decode(r["data"])) for r in event["records"]) / 1e6
    variants = {"default": {}, "tight_budget": {"RESPONSE_BUDGET_BYTES": "280000"}}
    times: dict[str, list[float]] = {v: [] for v in variants}
    results = {}
    _run(handler, event)  # warm-up (imports, first-call allocations)
    for _ in range(REPEATS):
        for name, env in variants.items():
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            elapsed, response = _run(handler, event)
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
            times[name].append(elapsed)
            results[name] = response["records"]
    rows = []
    print(f"batch: {RECORDS} records, {decoded_mb:.2f} MB decoded; {REPEATS} interleaved runs each")
    print(f"{'variant':<14}{'median ms':>11}{'records/s':>12}{'MB/s':>8}{'ok':>6}{'dropped':>9}{'failed':>8}"
          f"{'omitted':>9}{'resp kB':>9}")
    for name, ts in times.items():
        med = statistics.median(ts)
        kinds = [r["result"] for r in results[name]]
        counts = {k: kinds.count(k) for k in ("Ok", "Dropped", "ProcessingFailed")}
        omitted = sum(1 for r in results[name] if r["result"] == "ProcessingFailed"
                      and json.loads(base64.b64decode(r["data"])).get("original_omitted"))
        row = {"variant": name, "median_s": med, "records_per_s": RECORDS / med, "mb_per_s": decoded_mb / med,
               "min_s": min(ts), "max_s": max(ts), "response_bytes": len(json.dumps({"records": results[name]})),
               "originals_omitted": omitted, **counts}
        rows.append(row)
        print(f"{name:<14}{med * 1000:>11.1f}{RECORDS / med:>12,.0f}{decoded_mb / med:>8.1f}"
              f"{counts['Ok']:>6}{counts['Dropped']:>9}{counts['ProcessingFailed']:>8}"
              f"{omitted:>9}{row['response_bytes'] / 1000:>9.0f}")
    out = ROOT / "bench_results" / "bench_firehose_transform.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"records": RECORDS, "decoded_mb": decoded_mb, "repeats": REPEATS,
                               "python": sys.version.split()[0], "variants": rows}, indent=2))


if __name__ == "__main__":
    main()
