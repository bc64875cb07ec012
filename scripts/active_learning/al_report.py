"""The rehearsal's figures: per round and in total, printed as a table and written as JSON and a plot."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from al_loop import LoopResult

from active_learning_select import HUMAN, MODEL


def summarize(result: LoopResult, truth: Sequence[str], workers_per_object: int, target: float) -> dict:
    """Totals: who labelled what, how accurate each source is against the truth, and the saving."""
    n = len(truth)
    by_source = {s: [(i, r) for i, r in result.labels.items() if r.source == s] for s in (MODEL, HUMAN)}
    accuracy = {s: (sum(r.label == truth[int(i)] for i, r in pairs) / len(pairs) if pairs else None)
                for s, pairs in by_source.items()}
    human_tasks = sum(r.human_tasks for r in result.rounds)
    by_hand = n * workers_per_object
    auto_share = len(by_source[MODEL]) / n
    return {
        "objects": n,
        "labeled": len(result.labels),
        "unlabeled": n - len(result.labels),
        "auto_labeled": len(by_source[MODEL]),
        "auto_labeled_share": round(auto_share, 4),
        "auto_label_accuracy": accuracy[MODEL],
        "human_labeled": len(by_source[HUMAN]),
        "human_label_accuracy": accuracy[HUMAN],
        "overall_label_accuracy": sum(r.label == truth[int(i)] for i, r in result.labels.items()) / max(1, len(result.labels)),
        "human_tasks": human_tasks,
        "human_tasks_by_hand": by_hand,
        "human_tasks_saved_share": round(1 - human_tasks / by_hand, 4),
        "target_accuracy": target,
        "goal_met": auto_share >= 0.6 and (accuracy[MODEL] or 0) >= target,
        "rounds": len(result.rounds),
        "stopped_because": result.stopped_because,
    }


def print_tables(result: LoopResult, totals: dict) -> None:
    print(f"{'round':>5} {'threshold':>9} {'held-out':>8} {'auto':>6} {'auto acc':>8} {'humans':>6} "
          f"{'tasks':>6} {'left':>6}")
    for r in result.rounds:
        acc = f"{r.auto_correct / r.auto_labeled:.4f}" if r.auto_labeled else "-"
        thr = f"{r.threshold:.4f}" if r.threshold is not None else "-"
        print(f"{r.round:>5} {thr:>9} {r.held_out:>8} {r.auto_labeled:>6} {acc:>8} {r.human_objects:>6} "
              f"{r.human_tasks:>6} {r.unlabeled_left:>6}")
    acc = totals["auto_label_accuracy"]
    print(f"total: {totals['auto_labeled']}/{totals['objects']} objects labeled by the model "
          f"({totals['auto_labeled_share']:.1%}) at accuracy {acc if acc is None else round(acc, 4)} "
          f"(target {totals['target_accuracy']}); {totals['human_labeled']} by humans at accuracy "
          f"{round(totals['human_label_accuracy'] or 0, 4)}; {totals['unlabeled']} left unlabeled")
    print(f"human tasks: {totals['human_tasks']} vs {totals['human_tasks_by_hand']} labeling everything by hand "
          f"({totals['human_tasks_saved_share']:.1%} saved); goal met: {totals['goal_met']} "
          f"({totals['stopped_because']})")


def write_outputs(out_dir: Path, result: LoopResult, totals: dict, settings: dict) -> tuple[Path, Path]:
    """`labeling.json` (settings, rounds, totals) and `labeling.png` (cumulative labels by source)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "labeling.json"
    json_path.write_text(json.dumps({"settings": settings, "rounds": [asdict(r) for r in result.rounds],
                                     "totals": totals}, indent=2))
    import matplotlib
    matplotlib.use("Agg")  # no display here; a file only
    import matplotlib.pyplot as plt

    rounds = [r.round for r in result.rounds]
    auto = _cumulative([r.auto_labeled for r in result.rounds])
    human = _cumulative([r.human_objects for r in result.rounds])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.stackplot(rounds, auto, human, labels=["labeled by the model", "sent to humans"], alpha=0.8)
    ax.axhline(totals["objects"], color="black", linewidth=0.8, linestyle="--", label="all objects")
    ax.set_xlabel("round")
    ax.set_ylabel("objects (cumulative)")
    acc = totals["auto_label_accuracy"]
    ax.set_title(f"Active learning: {totals['auto_labeled_share']:.0%} model-labeled at accuracy "
                 f"{0 if acc is None else acc:.3f} (target {totals['target_accuracy']})")
    ax.legend(loc="lower right")
    fig.tight_layout()
    png_path = out_dir / "labeling.png"
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return json_path, png_path


def _cumulative(values: list[int]) -> list[int]:
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out
