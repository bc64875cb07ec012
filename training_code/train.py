"""SageMaker training entry point for XGBoost (script mode, our own image, or local runs).

    python train.py [--root DIR] [--<hyperparameter> VALUE ...]

Reads hyperparameters (hyperparameters.json, SM_HPS, CLI pairs; the built-in algorithm's names),
the `train`, `validation` and optional `test` channels (CSV label-first, Parquet, libsvm or
RecordIO-protobuf), trains with QuantileDMatrix + hist (CUDA when the instance has GPUs; a plain
DMatrix for exact, approx and gblinear), across hosts when there are several, resumes from this
job's newest checkpoint, runs `_kfold` cross-validation when asked, and writes the model directory
(model_artifacts). A bad input ends the process with exit code 1 and a one-line reason in
`<output>/failure`.
"""
from __future__ import annotations

import xgboost_lean  # noqa: F401  (first: imports xgboost without scikit-learn; see its docstring)

# isort: split
import sys
import traceback
from pathlib import Path

import xgboost as xgb

import hyperparam_rules
import hyperparams
import kfold
import train_metrics
from callbacks import Checkpointer, MetricLogger, StopOnTermination, latest_checkpoint
from checkpoint_fingerprint import fingerprint
from data_iter import ChannelIter, build_matrix, build_plain_matrix, free_disk_bytes, label_checker, sampled_cuts
from data_sources import detect_content_type, list_files
from distributed import communicator
from model_artifacts import save_artifacts
from sm_contract import (
    Paths,
    TrainingError,
    channel_content_type,
    channel_dir,
    cluster,
    gpu_count,
    raw_hyperparameters,
    resolve_paths,
    write_atomic,
)


def parse_cli(argv: list[str]) -> tuple[str | None, dict[str, str]]:
    """Split `--root DIR` from the `--name value` / `--name=value` hyperparameter pairs script mode passes."""
    root, pairs, i = None, {}, 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--"):
            raise TrainingError(f"unexpected argument {token!r}")
        name, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv):
                raise TrainingError(f"argument --{name} needs a value")
            value, i = argv[i + 1], i + 1
        i += 1
        if name == "root":
            root = value
        else:
            pairs[name.replace("-", "_")] = value
    return root, pairs


def choose_device(hp: dict) -> str:
    """`device` if set; else CUDA when the instance has GPUs and this xgboost build supports them."""
    if hp["device"]:
        return "cuda" if hp["device"] == "gpu" else hp["device"]
    if gpu_count() > 0:
        if xgb.build_info().get("USE_CUDA"):
            return "cuda"
        print("GPUs present but this xgboost build has no CUDA: training on CPU", file=sys.stderr)
    return "cpu"


def spill_dir(paths: Paths) -> Path:
    """Where parsed rows are spilled between passes: /opt/ml/input, on the job's ML storage volume (the
    scratch space SageMaker documents), beside the File-mode data it is smaller than."""
    return paths.data_dir.parent


def open_channel(paths: Paths, name: str, hp: dict, budget: int, required: bool) -> ChannelIter | None:
    """A ChannelIter over a channel's files, None if an optional channel is absent."""
    directory = channel_dir(paths, name)
    if directory is None:
        if required:
            raise TrainingError(f"channel '{name}' is missing (no data at {paths.data_dir / name})")
        return None
    files = list_files(directory)
    if not files:
        raise TrainingError(f"channel '{name}' has no data files")
    declared = hp["content_type"] or channel_content_type(paths, name)
    content_type = detect_content_type(files, declared)
    return ChannelIter(name, files, content_type, label_checker(hp["objective"], hp["num_class"]),
                       cache_bytes=budget, csv_weights=bool(hp["csv_weights"]),
                       interval_labels=hp["objective"] == "survival:aft", spill_dir=spill_dir(paths))


def train_booster(paths: Paths, hp: dict, params: dict, metrics: train_metrics.MetricPlan, dtrain, evals,
                  tag: str) -> xgb.Booster:
    """Train from this job's newest checkpoint (or scratch) up to num_round rounds."""
    start = latest_checkpoint(paths.checkpoint_dir, tag)
    done = start.num_boosted_rounds() if start is not None else 0
    if done:
        print(f"resuming from checkpoint at round {done}", file=sys.stderr, flush=True)
    if done >= hp["num_round"]:
        return start
    has_validation = any(name == "validation" for _, name in evals)
    # Checkpoint first: a round's log line then means its checkpoint is already durable.
    callbacks = [Checkpointer(paths.checkpoint_dir, hp["checkpoint_frequency"], tag), MetricLogger(),
                 *train_metrics.early_stopping(metrics, hp["early_stopping_rounds"], has_validation)]
    if hp["save_model_on_termination"] == "true":
        callbacks.append(StopOnTermination())
    return xgb.train(
        params, dtrain, num_boost_round=hp["num_round"] - done, evals=evals, xgb_model=start,
        custom_metric=metrics.custom_metric(hp["objective"], hp["num_class"]),
        callbacks=callbacks, verbose_eval=False,
    )


def matrix(it: ChannelIter, hp: dict, ref=None):
    """The channel's training matrix: QuantileDMatrix, or a plain DMatrix where hist is not used."""
    if hyperparam_rules.needs_plain_matrix(hp):
        return build_plain_matrix(it)
    return build_matrix(it, max_bin=hp["max_bin"], ref=ref)


# Trained and served by ONE xgboost version: a model saved by 3.2 and read by another version can
# predict differently (e.g. base_score). Matches requirements-image.txt and the sagemaker-xgboost:3.2-0 image.
PINNED_XGBOOST_VERSION = "3.2.0"


def run(paths: Paths, cli_pairs: dict[str, str]) -> dict:
    """Train and save; returns the model metadata written (leader) or {} (other hosts)."""
    if xgb.__version__ != PINNED_XGBOOST_VERSION:
        raise TrainingError(f"xgboost {xgb.__version__} found; this code trains with "
                            f"{PINNED_XGBOOST_VERSION} only (the version serving loads models with)")
    hp = hyperparams.parse(raw_hyperparameters(paths, cli_pairs))
    metrics = train_metrics.plan(hp)
    hosts = cluster(paths)
    params = hyperparams.booster_params(hp)
    params["device"] = params.get("device") or choose_device(hp)
    params.pop("eval_metric", None)
    if metrics.native:
        params["eval_metric"] = metrics.native
    budget = (hp["data_cache_mb"] << 20) if hp["data_cache_mb"] is not None else free_disk_bytes(spill_dir(paths)) // 2
    train_it = open_channel(paths, "train", hp, budget, required=True)
    valid_it = open_channel(paths, "validation", hp, budget, required=False)
    test_it = open_channel(paths, "test", hp, budget, required=False)
    if hp["early_stopping_rounds"] and valid_it is None:
        print("early_stopping_rounds is set but there is no validation channel: training all num_round rounds "
              "(as the built-in algorithm does)", file=sys.stderr, flush=True)
    if hp["_kfold"] is not None:
        if hosts.size > 1:
            raise TrainingError("_kfold cross-validation runs on one instance: set InstanceCount to 1")
        boosters, iterations = kfold.train_folds(hp, params, metrics, [it for it in (train_it, valid_it) if it])
        return save_artifacts(paths.model_dir, boosters, iterations, hp, {})
    tag = fingerprint(hp, {it.name: it.files for it in (train_it, valid_it) if it})
    with communicator(hosts):
        cuts = None
        if hp["sketch_sample_ratio"] < 1 and hosts.size == 1 and not hyperparam_rules.needs_plain_matrix(hp):
            cuts = sampled_cuts(train_it, hp["sketch_sample_ratio"], hp["max_bin"])
        dtrain = matrix(train_it, hp, ref=cuts)
        evals = [(dtrain, "train")]
        if valid_it is not None:
            evals.append((matrix(valid_it, hp, ref=dtrain), "validation"))
        print(f"host {hosts.current_host}: {dtrain.num_row()} training rows, {dtrain.num_col()} features, "
              f"device={params['device']}", file=sys.stderr, flush=True)
        booster = train_booster(paths, hp, params, metrics, dtrain, evals, tag)
        dtest = matrix(test_it, hp, ref=dtrain) if test_it else None
        final, best_iteration = train_metrics.best_model(booster)
        scores = train_metrics.final_metrics(final, evals, dtest, metrics.custom_metric(hp["objective"], hp["num_class"]))
        if hosts.rank != 0:
            return {}
        return save_artifacts(paths.model_dir, [final], [best_iteration], hp, scores)


def write_failure(paths: Paths, message: str) -> None:
    """SageMaker shows the first line of output/failure as the job's FailureReason."""
    line = " ".join(message.split())[:1000]
    write_atomic(paths.failure_file, (line + "\n").encode())
    print(f"training failed: {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        root, pairs = parse_cli(argv)
    except TrainingError as err:
        write_failure(resolve_paths(None), str(err))
        return 1
    paths = resolve_paths(root)
    try:
        run(paths, pairs)
        return 0
    except TrainingError as err:
        write_failure(paths, str(err))
        return 1
    except Exception as err:  # noqa: BLE001 - any crash must still leave a failure reason
        traceback.print_exc()
        write_failure(paths, f"internal error: {type(err).__name__}: {err}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
