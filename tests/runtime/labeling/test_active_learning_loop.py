"""The active-learning loop with real XGBoost: train.py as a training job, inference.py's handlers as
the batch transform, simulated annotators consolidated by the real consolidation function."""
from __future__ import annotations

import al_model
import numpy as np
import pytest
from al_annotators import SimulatedWorkforce, WorkforceSettings
from al_loop import run_loop
from sklearn.datasets import make_classification

from active_learning_select import HUMAN, MODEL
from active_learning_steps import RunSettings

CLASSES = ["0", "1"]


@pytest.fixture(scope="module")
def dataset():
    x, y = make_classification(n_samples=700, n_features=8, n_informative=5, class_sep=2.0, flip_y=0.0,
                               random_state=3)
    return x, [str(v) for v in y]


def test_loop_labels_everything_and_model_labels_meet_the_target(dataset, tmp_path):
    # GIVEN 700 objects, 3 annotators per object at 90%, and a 95% target
    x, truth = dataset
    crowd = SimulatedWorkforce(WorkforceSettings(seed=5), CLASSES)
    settings = RunSettings(classes=tuple(CLASSES), target_accuracy=0.95, initial_batch=150, batch_size=120,
                           max_rounds=4)
    # WHEN the loop runs
    result = run_loop(x, truth, crowd, settings, tmp_path, num_round=40)
    # THEN every object ends with one label, the model labelled a share of them at the target or better,
    auto = {i: r for i, r in result.labels.items() if r.source == MODEL}
    assert result.stopped_because == "every object labeled" and len(result.labels) == len(truth)
    assert len(auto) >= 0.3 * len(truth)
    assert sum(r.label == truth[int(i)] for i, r in auto.items()) / len(auto) >= 0.95
    # every round's accepted labels meet it too (not just the average),
    assert all(r.auto_correct >= 0.95 * r.auto_labeled for r in result.rounds)
    # every accepted label cleared its round's calibrated threshold,
    thresholds = {r.round: r.threshold for r in result.rounds}
    assert all(r.confidence >= thresholds[r.round] for r in auto.values())
    # and the humans' work is fully accounted for
    assert sum(r.human_tasks for r in result.rounds) == crowd.tasks_done
    assert sum(r.human_objects for r in result.rounds) >= sum(1 for r in result.labels.values() if r.source == HUMAN)


def test_loop_stops_when_the_budget_is_spent(dataset, tmp_path):
    x, truth = dataset
    crowd = SimulatedWorkforce(WorkforceSettings(seed=5), CLASSES)
    settings = RunSettings(classes=tuple(CLASSES), initial_batch=60, batch_size=60, human_task_budget=300,
                           max_rounds=5)
    result = run_loop(x, truth, crowd, settings, tmp_path, num_round=20)
    assert result.stopped_because == "human-task budget spent" and crowd.tasks_done <= 300
    assert len(result.labels) < len(truth)  # what is left stays unlabeled, not guessed


def test_failed_training_job_reports_the_reason(tmp_path):
    # GIVEN labels that the objective cannot take (class 7 with num_class 2)
    hp = al_model.hyperparameters(3, 5, 1) | {"num_class": 2}
    with pytest.raises(al_model.TrainingFailed, match="train.py exited 1"):
        al_model.train(tmp_path / "job", np.random.default_rng(0).random((20, 3)), np.full(20, 7.0), hp)
