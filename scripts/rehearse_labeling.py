"""Local rehearsal of active learning: the labeling loop on a dataset scikit-learn ships, with
simulated annotators, the platform's training code and its batch-transform handlers.

    .venv/bin/python scripts/rehearse_labeling.py [--dataset digits] [--target-accuracy 0.95] ...

Prints per round and in total how many objects the model labelled, their accuracy against the
truth, and the human tasks needed against labeling everything by hand; writes
.rehearsal/labeling/labeling.json and labeling.png. Exits 1 when the goal (>= 60% of objects
labelled by the model at or above the target accuracy) is missed.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
for folder in (REPO / "scripts" / "active_learning", REPO / "lambda" / "labeling_active_learning",
               REPO / "lambda" / "labeling_consolidation"):
    sys.path.insert(0, str(folder))

from al_annotators import SimulatedWorkforce, WorkforceSettings  # noqa: E402
from al_loop import run_loop  # noqa: E402
from al_report import print_tables, summarize, write_outputs  # noqa: E402

from active_learning_steps import RunSettings  # noqa: E402

DATASETS = ("digits", "breast_cancer", "wine", "synthetic")


def load_dataset(name: str, seed: int) -> tuple[np.ndarray, list[str], list[str]]:
    """(features, true labels as strings, classes in order), shuffled with `seed`."""
    from sklearn import datasets

    if name == "synthetic":
        x, y = datasets.make_classification(n_samples=6000, n_features=20, n_informative=8, n_classes=3,
                                            n_clusters_per_class=2, class_sep=1.5, flip_y=0.0,
                                            random_state=seed)
    else:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    classes = [str(c) for c in sorted(set(y.tolist()))]
    return x[order].astype(float), [str(v) for v in y[order]], classes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--target-accuracy", type=float, default=0.95)
    p.add_argument("--confidence-level", type=float, default=0.9)
    p.add_argument("--initial-batch", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--human-task-budget", type=int, default=None, help="worker tasks; default: no limit")
    p.add_argument("--max-rounds", type=int, default=12)
    p.add_argument("--workers", type=int, default=12)
    p.add_argument("--workers-per-object", type=int, default=3)
    p.add_argument("--annotator-accuracy", type=float, default=0.9)
    p.add_argument("--annotator-disagreement", type=float, default=0.05, help="spread of workers' accuracies")
    p.add_argument("--no-answer-rate", type=float, default=0.02)
    p.add_argument("--malformed-rate", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=REPO / ".rehearsal" / "labeling")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    features, truth, classes = load_dataset(args.dataset, args.seed)
    loop = RunSettings(classes=tuple(classes), target_accuracy=args.target_accuracy,
                       confidence_level=args.confidence_level, initial_batch=args.initial_batch,
                       batch_size=args.batch_size, human_task_budget=args.human_task_budget,
                       workers_per_object=args.workers_per_object, max_rounds=args.max_rounds, seed=args.seed)
    crowd = WorkforceSettings(workers=args.workers, workers_per_object=args.workers_per_object,
                              accuracy=args.annotator_accuracy, disagreement=args.annotator_disagreement,
                              no_answer_rate=args.no_answer_rate, malformed_rate=args.malformed_rate,
                              seed=args.seed)
    print(f"dataset {args.dataset}: {len(truth)} objects, {len(classes)} classes; annotators "
          f"{crowd.workers_per_object} per object at accuracy {crowd.accuracy} +- {crowd.disagreement}")
    started = time.perf_counter()
    result = run_loop(features, truth, SimulatedWorkforce(crowd, classes), loop, args.out / "work")
    totals = summarize(result, truth, crowd.workers_per_object, loop.target_accuracy)
    totals["seconds"] = round(time.perf_counter() - started, 1)
    print_tables(result, totals)
    settings = {"dataset": args.dataset, "loop": asdict(loop), "workforce": asdict(crowd)}
    json_path, png_path = write_outputs(args.out, result, totals, settings)
    print(f"wrote {json_path.relative_to(REPO) if json_path.is_relative_to(REPO) else json_path} and {png_path.name}")
    return 0 if totals["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
