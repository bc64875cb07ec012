"""Active learning's pure decisions: labels from predictions, calibration, selection and merge."""
from __future__ import annotations

import pytest

from active_learning_select import (
    HUMAN,
    MODEL,
    LabelRecord,
    calibrate_threshold,
    choose_human_batch,
    merge_labels,
    model_label,
    parse_prediction_line,
    split_by_threshold,
    wilson_lower_bound,
)


def test_binary_and_multiclass_predictions_give_label_and_confidence():
    assert model_label(0.9, ["0", "1"]) == ("1", 0.9)
    assert model_label(0.2, ["0", "1"]) == ("0", pytest.approx(0.8))
    assert model_label([0.1, 0.7, 0.2], ["a", "b", "c"]) == ("b", 0.7)
    assert model_label([0.4, 0.4, 0.2], ["a", "b", "c"])[0] == "a"  # ties: the first class
    with pytest.raises(ValueError, match="3 scores for 2 classes"):
        model_label([0.1, 0.2, 0.7], ["0", "1"])


def test_transform_output_lines_parse_as_scores():
    assert parse_prediction_line("0.25\n") == 0.25
    assert parse_prediction_line("0.1,0.9") == [0.1, 0.9]
    with pytest.raises(ValueError):
        parse_prediction_line("nan")


def test_wilson_lower_bound_matches_the_textbook_value():
    # 81 of 100 at 97.5% one-sided (z = 1.96): the Wilson interval's lower end is 0.7222
    assert wilson_lower_bound(81, 100, 0.975) == pytest.approx(0.7222, abs=1e-4)
    assert wilson_lower_bound(0, 0, 0.9) == 0.0


def test_threshold_is_the_lowest_that_keeps_the_bound_above_target():
    # GIVEN 40 confident correct predictions, then a band where mistakes start
    confidences = [0.99] * 40 + [0.8] * 10 + [0.6] * 10
    correct = [True] * 40 + [True] * 9 + [False] + [False] * 5 + [True] * 5
    # WHEN calibrated for 90% at a 90% confidence level
    result = calibrate_threshold(confidences, correct, 0.9, 0.9)
    # THEN the 0.8 band still qualifies (49/50) but adding the 0.6 band (54/60) does not
    assert result.threshold == 0.8 and result.covered == 50 and result.accuracy == pytest.approx(0.98)
    assert result.lower_bound >= 0.9
    assert wilson_lower_bound(54, 60, 0.9) < 0.9


def test_no_threshold_when_the_slice_cannot_show_the_target():
    # 9 correct of 9 is too little evidence for 95% with min_covered 10; 60% correct never is
    assert calibrate_threshold([0.99] * 9, [True] * 9, 0.95).threshold is None
    assert calibrate_threshold([0.9] * 50, [True, False] * 25, 0.95).threshold is None


def test_equal_confidences_are_never_split():
    result = calibrate_threshold([0.9] * 30 + [0.7] * 30, [True] * 30 + [True] * 20 + [False] * 10, 0.8, 0.5)
    assert result.covered in (30, 60) and result.threshold in (0.9, 0.7)


def test_split_accepts_at_or_above_threshold_and_none_accepts_nothing():
    predictions = {"a": ("1", 0.95), "b": ("0", 0.90), "c": ("1", 0.6)}
    accepted, rest = split_by_threshold(predictions, 0.9)
    assert set(accepted) == {"a", "b"} and set(rest) == {"c"}
    assert split_by_threshold(predictions, None) == ({}, predictions)


def test_human_batch_is_least_confident_first_plus_a_random_share():
    candidates = {f"o{i:02d}": i / 100 for i in range(50)}
    uncertain, held_out = choose_human_batch(candidates, 10, 0.3, seed=1)
    assert len(uncertain) == 7 and len(held_out) == 3 and not set(uncertain) & set(held_out)
    rest = sorted((i for i in candidates if i not in held_out), key=candidates.get)
    assert uncertain == rest[:7]
    assert choose_human_batch(candidates, 10, 0.3, seed=1) == (uncertain, held_out)  # seeded
    assert sum(map(len, choose_human_batch({"x": 0.5}, 10, 0.5, seed=1))) == 1  # never more than exist


def test_merge_keeps_provenance_and_refuses_conflicts():
    labels = merge_labels({}, [("a", LabelRecord("1", MODEL, 0.97, 1))])
    upgraded = merge_labels(labels, [("a", LabelRecord("0", HUMAN, 1.0, 2))])
    assert upgraded["a"].source == HUMAN and labels["a"].source == MODEL  # inputs are not mutated
    with pytest.raises(ValueError, match="object a already has a human label from round 2"):
        merge_labels(upgraded, [("a", LabelRecord("1", MODEL, 0.99, 3))])
