"""Synthetic card-transaction events of realistic shape for the ETL tests and bench/bench_etl.py.

Skewed amounts, high-cardinality merchants, medium-cardinality categories and countries,
missing optional values, ~3% fraud, some unlabeled rows; `messy=True` adds what the raw zone
really holds: duplicates (a later correction of the same event_id), untidy case/whitespace,
numbers as strings, and invalid rows.
"""
from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

CATEGORIES = ["grocery", "restaurants", "fuel", "online_retail", "electronics", "travel", "pharmacy",
              "clothing", "entertainment", "utilities", "gaming", "jewelry", "hotels", "airlines",
              "telecom", "insurance", "education", "charity", "home_improvement", "sports",
              "books", "pets", "beauty", "toys", "gift_cards"]
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "BE", "SE", "NO", "DK", "FI", "PL", "CZ", "AT",
             "CH", "IE", "PT", "GR", "RO", "HU", "CA", "MX", "BR", "AR", "JP", "KR", "CN", "IN", "SG",
             "AU", "NZ", "ZA", "NG", "EG", "AE", "TR", "IL", "TH", "VN"]
DEVICES = ["desktop", "phone", "tablet", "terminal", "other"]
START = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _weighted(rng: random.Random, values: list[str], skew: float) -> str:
    # Zipf-like: the first values are much more frequent, the tail is rare.
    weights = [1.0 / (i + 1) ** skew for i in range(len(values))]
    return rng.choices(values, weights)[0]


def make_event(rng: random.Random, i: int) -> dict:
    """One clean event; fraud correlates with amount, account age, channel and category."""
    fraud = rng.random() < 0.03
    channel = rng.choices(["pos", "web", "mobile"], [0.5, 0.3, 0.2] if not fraud else [0.15, 0.55, 0.3])[0]
    ts = START + timedelta(seconds=rng.randrange(30 * 86400), milliseconds=rng.randrange(1000))
    amount = round(math.exp(rng.gauss(3.4 if not fraud else 4.6, 1.1)), 2)
    event = {
        "event_id": f"evt-{i:08d}",
        "event_time": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
        "customer_id": f"cust-{rng.randrange(max(1, i // 4 + 1)):07d}",
        # popular chains plus a long tail: high cardinality, as merchant ids are
        "merchant_id": f"m-{int(rng.paretovariate(0.8)) if rng.random() < 0.6 else rng.randrange(50000):06d}",
        "merchant_category": _weighted(rng, CATEGORIES, 1.0) if not fraud else rng.choice(CATEGORIES[4:14]),
        "channel": channel,
        "country": _weighted(rng, COUNTRIES, 1.2),
        "device_type": {"pos": "terminal", "web": "desktop"}.get(channel) or rng.choice(["phone", "tablet"]),
        "amount": amount,
        "account_age_days": int(rng.expovariate(1 / (700 if not fraud else 60))),
        "num_prev_transactions": int(rng.paretovariate(1.2) * 3) - 3,
        "is_fraud": int(fraud),
    }
    for name, p in (("merchant_category", 0.04), ("device_type", 0.08), ("account_age_days", 0.1),
                    ("num_prev_transactions", 0.07), ("is_fraud", 0.05)):
        if rng.random() < p:
            event.pop(name)  # missing optional values; no label = unlabeled event
    return event


def make_events(n: int, seed: int = 7, messy: bool = False) -> list[dict]:
    """`n` clean events, plus (messy) ~1% duplicates, ~1% untidy rows and ~1% invalid rows."""
    rng = random.Random(seed)
    events = [make_event(rng, i) for i in range(n)]
    if not messy:
        return events
    extra = []
    for e in rng.sample(events, n // 100):  # a later correction of the same event
        later = datetime.fromisoformat(e["event_time"]) + timedelta(seconds=1)
        extra.append(dict(e, amount=round(e["amount"] + 1, 2),
                          event_time=later.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"))
    for e in rng.sample(events, n // 100):  # untidy but valid
        e.update(channel=f" {e['channel'].upper()} ", country=e["country"].lower(), amount=str(e["amount"]))
    invalid = [("amount", "abc"), ("channel", "atm"), ("merchant_id", None), ("amount", -3),
               ("country", "GBR"), ("event_time", "yesterday"), ("is_fraud", 7)]
    for j in range(n // 100):
        field, value = invalid[j % len(invalid)]
        bad = dict(make_event(rng, n + j))
        bad[field] = value
        extra.append(bad)
    return events + extra


def write_jsonl(events: list[dict], folder: Path, files: int = 4) -> Path:
    """Write events as JSON Lines split over `files` files (as Firehose writes objects)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        lines = (json.dumps(e) for e in events[k::files])
        (folder / f"part-{k:03d}.json").write_text("\n".join(lines) + "\n")
    return folder
