"""Training callbacks: per-round metric lines for SageMaker's metric regexes, and spot checkpoints."""
from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import xgboost as xgb
from xgboost import collective

from sm_contract import write_atomic

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-([0-9a-f]{16})-(\d+)\.ubj$")
FINGERPRINT_ATTR = "sm_trial_fingerprint"


def _is_leader() -> bool:
    # Outside a communicator get_rank() is 0, so a single host is always the leader.
    return collective.get_rank() == 0


def format_round(round_index: int, evals_log: dict) -> str:
    """xgboost's own per-round line, e.g. `[12]\ttrain-auc:0.98100\tvalidation-auc:0.97500`.

    The built-in algorithm prints this line and its metric regexes (CloudWatch shows the tab as
    `#011`) parse it, as do the regexes in metric_definitions.json. `round_index` counts from 0
    across a checkpoint resume, so a resumed job continues its numbering.
    """
    parts = [f"[{round_index}]"]
    for data_name, metrics in evals_log.items():
        for metric, history in metrics.items():
            value = history[-1][0] if isinstance(history[-1], tuple) else history[-1]
            parts.append(f"{data_name}-{metric}:{value:.5f}")
    return "\t".join(parts)


class MetricLogger(xgb.callback.TrainingCallback):
    """Prints `format_round` after every round (leader only), flushed so CloudWatch sees it live."""

    def after_iteration(self, model, epoch, evals_log) -> bool:
        if _is_leader() and evals_log:
            print(format_round(model.num_boosted_rounds() - 1, evals_log), file=sys.stdout, flush=True)
        return False


class Checkpointer(xgb.callback.TrainingCallback):
    """Saves the booster every `every` rounds as `checkpoint-<fingerprint>-<rounds>.ubj`, atomically,
    keeping this job's newest `keep`.

    Managed spot training syncs this directory to S3 and back on restart; an atomic rename means a
    SIGKILL mid-write leaves the previous checkpoint intact rather than a truncated one. The
    fingerprint (checkpoint_fingerprint.fingerprint) names the hyperparameters and data: every trial
    of a tuning job gets the same CheckpointConfig.S3Uri, so the folder may hold other trials' files,
    which are never resumed from and never deleted.
    """

    def __init__(self, directory: Path, every: int, fingerprint: str, keep: int = 2) -> None:
        super().__init__()
        self.directory, self.every, self.fingerprint, self.keep = Path(directory), every, fingerprint, keep

    def after_iteration(self, model, epoch, evals_log) -> bool:
        rounds = model.num_boosted_rounds()
        if rounds % self.every == 0 and _is_leader():
            save_checkpoint(model, self.directory, rounds, self.fingerprint, self.keep)
        return False


def save_checkpoint(model: xgb.Booster, directory: Path, rounds: int, fingerprint: str, keep: int = 2) -> Path:
    """Write one checkpoint (tagged with `fingerprint` in its name and as a booster attribute) and
    prune all but this fingerprint's newest `keep`."""
    path = Path(directory) / f"checkpoint-{fingerprint}-{rounds:06d}.ubj"
    model.set_attr(**{FINGERPRINT_ATTR: fingerprint})
    write_atomic(path, bytes(model.save_raw(raw_format="ubj")))
    model.set_attr(**{FINGERPRINT_ATTR: None})
    for old in list_checkpoints(directory, fingerprint)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: Path, fingerprint: str) -> list[Path]:
    """This fingerprint's checkpoints in a directory, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(2)), p) for p in directory.iterdir()
             if (m := CHECKPOINT_PATTERN.match(p.name)) and m.group(1) == fingerprint]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: Path, fingerprint: str) -> xgb.Booster | None:
    """The newest loadable checkpoint of exactly this fingerprint, or None.

    A corrupt one is skipped (the older one is used); one whose stored fingerprint differs from its
    name (renamed, copied by hand) is refused as well. Other jobs' checkpoints are reported, not used.
    """
    others = _foreign(directory, fingerprint)
    if others:
        print(f"ignoring {len(others)} checkpoint(s) of other hyperparameters or data in {directory} "
              f"(this job's fingerprint is {fingerprint})", file=sys.stderr, flush=True)
    for path in reversed(list_checkpoints(directory, fingerprint)):
        try:
            booster = xgb.Booster()
            booster.load_model(bytearray(path.read_bytes()))
        except xgb.core.XGBoostError:
            print(f"skipping unreadable checkpoint {path.name}", file=sys.stderr, flush=True)
            continue
        if booster.attr(FINGERPRINT_ATTR) != fingerprint:
            print(f"skipping checkpoint {path.name}: its stored fingerprint does not match", file=sys.stderr, flush=True)
            continue
        booster.set_attr(**{FINGERPRINT_ATTR: None})
        return booster
    return None


def _foreign(directory: Path, fingerprint: str) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir()
            if p.name.startswith("checkpoint-") and not ((m := CHECKPOINT_PATTERN.match(p.name)) and m.group(1) == fingerprint)]


class StopOnTermination(xgb.callback.TrainingCallback):
    """`save_model_on_termination=true`: on SIGTERM (a stopped job, a spot interruption), finish the
    current round and stop, so the model trained so far is saved like a finished one."""

    def __init__(self) -> None:
        super().__init__()
        self.signalled = False
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        print("SIGTERM: stopping after this round and saving the model", file=sys.stderr, flush=True)
        self.signalled = True

    def after_iteration(self, model, epoch, evals_log) -> bool:
        return self.signalled
