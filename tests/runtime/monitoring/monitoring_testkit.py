"""Generated baselines and capture files in SageMaker's data-capture format."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

FEATURES = 6
REPO_CODE = Path(__file__).resolve().parents[3] / "training_code"


def sample(n: int, seed: int, shift: dict | None = None, width: int = FEATURES) -> np.ndarray:
    """Independent features with different shapes; `shift` adds {column: offset}."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(0, 1, n), rng.exponential(2.0, n), rng.uniform(-3, 3, n),
                         rng.normal(10, 4, n), rng.integers(0, 5, n).astype(float), rng.gamma(2.0, 1.5, n)])[:, :width]
    for column, offset in (shift or {}).items():
        x[:, column] += offset
    return x


def score(x: np.ndarray) -> np.ndarray:
    """A fixed 'model': the logistic of a linear score (stands in for the endpoint's output)."""
    return 1.0 / (1.0 + np.exp(-(0.8 * x[:, 0] - 0.3 * x[:, 2] + 0.1 * (x[:, 3] - 10))))


def write_label_first(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([y, x]), delimiter=",", fmt="%.10g")
    return path


def _part(mode: str, text: str, content_type: str, encoding: str) -> dict:
    data = base64.b64encode(text.encode()).decode() if encoding == "BASE64" else text
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def capture_record(row, prediction: float, index: int, *, encoding: str = "CSV", request_type: str = "text/csv",
                   inference_id: str | None = None, time: str = "2026-12-01T20:15:00Z") -> dict:
    """One captured invocation as SageMaker writes it (request CSV or JSON, response JSON)."""
    if request_type == "text/csv":
        body = ",".join("" if v is None or (isinstance(v, float) and np.isnan(v)) else (
            v if isinstance(v, str) else repr(float(v))) for v in row)
    else:
        body = json.dumps({"instances": [[None if isinstance(v, float) and np.isnan(v) else v for v in row]]})
    out_encoding = "BASE64" if encoding == "BASE64" else "JSON"
    meta = {"eventId": f"00000000-0000-0000-0000-{index:012d}", "inferenceTime": time}
    if inference_id:
        meta["inferenceId"] = inference_id
    return {"captureData": {
        "endpointInput": _part("INPUT", body, request_type, encoding if encoding == "BASE64" else (
            "CSV" if request_type == "text/csv" else "JSON")),
        "endpointOutput": _part("OUTPUT", json.dumps({"predictions": [float(prediction)]}), "application/json",
                                out_encoding)},
        "eventMetadata": meta, "eventVersion": "0"}


def write_capture(folder: Path, x, predictions, *, per_file: int = 1000, start: int = 0, **kwargs) -> list[Path]:
    """Capture files laid out as SageMaker lays them out (`AllTraffic/yyyy/mm/dd/hh/*.jsonl`)."""
    hour = folder / "AllTraffic" / "2026" / "12" / "01" / "20"
    hour.mkdir(parents=True, exist_ok=True)
    paths = []
    for begin in range(0, len(x), per_file):
        path = hour / f"15-00-000-{start + begin:08d}.jsonl"
        with open(path, "w") as handle:
            for i in range(begin, min(begin + per_file, len(x))):
                handle.write(json.dumps(capture_record(x[i], predictions[i], start + i, **kwargs)) + "\n")
        paths.append(path)
    return paths
