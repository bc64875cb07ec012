"""The SageMaker training contract: where inputs, outputs and settings live.

SageMaker mounts everything under `/opt/ml`. Script mode (the AWS XGBoost framework container) also
exports `SM_*` variables for the same places. A root override (`--root` or `SM_ROOT`) moves the whole
tree so the same code runs in a temporary directory in tests and in `make rehearse`; an explicit
`SM_*` path variable still wins over the root-derived default, as it does in SageMaker.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


class TrainingError(Exception):
    """A failure caused by the job's input or settings; its message goes to `output/failure`."""


DEFAULT_ROOT = "/opt/ml"


@dataclass(frozen=True)
class Paths:
    """Every location the training contract names, derived from one root."""

    root: Path
    model_dir: Path
    output_dir: Path
    checkpoint_dir: Path
    config_dir: Path
    data_dir: Path

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"


def resolve_paths(root: str | None = None, env: dict | None = None) -> Paths:
    """Resolve the contract's directories from a root (flag, `SM_ROOT`, or /opt/ml) and `SM_*` overrides."""
    env = os.environ if env is None else env
    base = Path(root or env.get("SM_ROOT") or DEFAULT_ROOT)
    return Paths(
        root=base,
        model_dir=Path(env.get("SM_MODEL_DIR") or base / "model"),
        # SM_OUTPUT_DIR is /opt/ml/output in script mode: the failure file lives there.
        output_dir=Path(env.get("SM_OUTPUT_DIR") or base / "output"),
        checkpoint_dir=Path(env.get("SM_CHECKPOINT_DIR") or base / "checkpoints"),
        config_dir=base / "input" / "config",
        data_dir=base / "input" / "data",
    )


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as err:
        raise TrainingError(f"{path.name} is not valid JSON: {err}") from None


def raw_hyperparameters(paths: Paths, cli_pairs: dict[str, str], env: dict | None = None) -> dict:
    """Merge hyperparameters: hyperparameters.json, then `SM_HPS`, then `--name value` CLI pairs.

    Values stay raw (strings, or JSON values from `SM_HPS`); `hyperparams.parse` types them.
    Script mode's own keys (`sagemaker_program`, `sagemaker_submit_directory`, ...) are dropped here;
    `_tuning_objective_metric`, which a tuning job adds, is kept (its metric is added to the job's).
    """
    env = os.environ if env is None else env
    merged: dict = dict(_read_json(paths.config_dir / "hyperparameters.json"))
    if env.get("SM_HPS"):
        try:
            merged.update(json.loads(env["SM_HPS"]))
        except json.JSONDecodeError as err:
            raise TrainingError(f"SM_HPS is not valid JSON: {err}") from None
    merged.update(cli_pairs)
    return {k: v for k, v in merged.items() if not k.startswith("sagemaker_")}


def channel_dir(paths: Paths, name: str, env: dict | None = None) -> Path | None:
    """The directory of channel `name` (`SM_CHANNEL_<NAME>` or `<root>/input/data/<name>`), or None."""
    env = os.environ if env is None else env
    explicit = env.get(f"SM_CHANNEL_{name.upper()}")
    path = Path(explicit) if explicit else paths.data_dir / name
    return path if path.is_dir() else None


def channel_content_type(paths: Paths, name: str, env: dict | None = None) -> str | None:
    """The content type declared for a channel: `SM_CHANNEL_<NAME>_CONTENT_TYPE`, else the
    channel's `ContentType` in inputdataconfig.json (or `SM_INPUT_DATA_CONFIG`)."""
    env = os.environ if env is None else env
    explicit = env.get(f"SM_CHANNEL_{name.upper()}_CONTENT_TYPE")
    if explicit:
        return explicit
    if env.get("SM_INPUT_DATA_CONFIG"):
        config = json.loads(env["SM_INPUT_DATA_CONFIG"])
    else:
        config = _read_json(paths.config_dir / "inputdataconfig.json")
    return (config.get(name) or {}).get("ContentType")


@dataclass(frozen=True)
class Cluster:
    """The hosts of this job; rank 0 (the first host) runs the collective tracker."""

    hosts: tuple[str, ...]
    current_host: str

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def size(self) -> int:
        return len(self.hosts)


def cluster(paths: Paths, env: dict | None = None) -> Cluster:
    """Hosts from `SM_HOSTS`/`SM_CURRENT_HOST`, else resourceconfig.json, else one local host."""
    env = os.environ if env is None else env
    if env.get("SM_HOSTS") and env.get("SM_CURRENT_HOST"):
        hosts, current = json.loads(env["SM_HOSTS"]), env["SM_CURRENT_HOST"]
    else:
        config = _read_json(paths.config_dir / "resourceconfig.json")
        hosts, current = config.get("hosts") or ["algo-1"], config.get("current_host") or "algo-1"
    # SageMaker names hosts algo-1..algo-N; sorting makes every host agree on who is rank 0.
    ordered = tuple(sorted(hosts, key=lambda h: (len(h), h)))
    if current not in ordered:
        raise TrainingError(f"current host {current!r} is not among hosts {list(ordered)}")
    return Cluster(hosts=ordered, current_host=current)


def gpu_count(env: dict | None = None) -> int:
    """GPUs on this instance: `SM_NUM_GPUS` when SageMaker sets it, else the NVIDIA driver's presence."""
    env = os.environ if env is None else env
    if env.get("SM_NUM_GPUS") not in (None, ""):
        return int(env["SM_NUM_GPUS"])
    gpus_dir = Path("/proc/driver/nvidia/gpus")
    if gpus_dir.is_dir():
        return len(list(gpus_dir.iterdir()))
    return 1 if shutil.which("nvidia-smi") else 0


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so a reader (or a restart after SIGKILL) never sees it half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
