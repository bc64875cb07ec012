"""Training callbacks: per-round metric lines for SageMaker's metric regexes, and spot checkpoints."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import xgboost as xgb
from xgboost import collective

from sm_contract import write_atomic

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)\.ubj$")


def _is_leader() -> bool:
    # Outside a communicator get_rank() is 0, so a single host is always the leader.
    return collective.get_rank() == 0


def format_round(rounds: int, evals_log: dict) -> str:
    """One line per round, e.g. `[12] train:auc=0.981 validation:auc=0.975`.

    `accuracy` is derived from `error`/`merror` (xgboost has no accuracy metric) so tuning jobs and
    dashboards can use it directly. The regexes in metric_definitions.json parse exactly this.
    """
    parts = [f"[{rounds}]"]
    for data_name, metrics in evals_log.items():
        for metric, history in metrics.items():
            value = history[-1][0] if isinstance(history[-1], tuple) else history[-1]
            parts.append(f"{data_name}:{metric}={value:.6f}")
            if metric in ("error", "merror"):
                parts.append(f"{data_name}:accuracy={1.0 - value:.6f}")
    return " ".join(parts)


class MetricLogger(xgb.callback.TrainingCallback):
    """Prints `format_round` after every round (leader only), flushed so CloudWatch sees it live."""

    def after_iteration(self, model, epoch, evals_log) -> bool:
        if _is_leader() and evals_log:
            print(format_round(model.num_boosted_rounds(), evals_log), file=sys.stdout, flush=True)
        return False


class Checkpointer(xgb.callback.TrainingCallback):
    """Saves the booster every `every` rounds as `checkpoint-<rounds>.ubj`, atomically, keeping `keep`.

    Managed spot training syncs this directory to S3 and back on restart; an atomic rename means a
    SIGKILL mid-write leaves the previous checkpoint intact rather than a truncated one.
    """

    def __init__(self, directory: Path, every: int, keep: int = 2) -> None:
        super().__init__()
        self.directory, self.every, self.keep = Path(directory), every, keep

    def after_iteration(self, model, epoch, evals_log) -> bool:
        rounds = model.num_boosted_rounds()
        if rounds % self.every == 0 and _is_leader():
            save_checkpoint(model, self.directory, rounds, self.keep)
        return False


def save_checkpoint(model: xgb.Booster, directory: Path, rounds: int, keep: int = 2) -> Path:
    """Write one checkpoint and prune all but the newest `keep`."""
    path = Path(directory) / f"checkpoint-{rounds:06d}.ubj"
    write_atomic(path, bytes(model.save_raw(raw_format="ubj")))
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoints in a directory, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: Path) -> xgb.Booster | None:
    """The newest loadable checkpoint, or None; a corrupt one is skipped (the older one is used)."""
    for path in reversed(list_checkpoints(directory)):
        try:
            booster = xgb.Booster()
            booster.load_model(bytearray(path.read_bytes()))
            return booster
        except xgb.core.XGBoostError:
            print(f"skipping unreadable checkpoint {path.name}", file=sys.stderr, flush=True)
    return None
