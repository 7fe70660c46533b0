"""Arms over seeds and splits (centrifuge.evaluate.compare): the statistics that decide
whether a recipe beats another on real video."""

import math

import pytest

from centrifuge.evaluate.compare import compare_arms, mean_spread, spearman, split_agreement


def test_mean_and_sample_spread():
    assert mean_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_spread([0.9]) == (0.9, 0.0)
    with pytest.raises(ValueError):
        mean_spread([])


def test_spearman_ranks_ties_by_their_average():
    # ranks x = 1, 2.5, 2.5, 4 and y = 1, 3, 2, 4: Pearson of the ranks = 4.5 / √(4.5 · 5)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2], [2, 1]))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="pairs"):
        spearman([1, 2, 3], [1, 2])


def test_differences_are_paired_by_seed():
    scores = {("plain", 0, "val"): 0.96, ("plain", 1, "val"): 0.97, ("plain", 2, "val"): 0.95,
              ("prior", 1, "val"): 0.93, ("prior", 2, "val"): 0.97, ("prior", 3, "val"): 0.50}
    rows = {r["arm"]: r for r in compare_arms(scores, "plain")}
    prior = rows["prior"]
    assert prior["seeds"] == [1, 2, 3] and prior["paired"] == 2
    # seed 3 has no plain twin: it counts in the mean, not in the difference
    assert prior["mean"] == pytest.approx((0.93 + 0.97 + 0.50) / 3)
    assert prior["diff"] == pytest.approx(((0.93 - 0.97) + (0.97 - 0.95)) / 2)
    assert prior["diff_spread"] == pytest.approx(math.sqrt(2) * 0.03)
    assert math.isnan(rows["plain"]["diff"])
    with pytest.raises(ValueError, match="reference"):
        compare_arms(scores, "wide")


def test_split_agreement_reads_whether_a_ranking_carries_over():
    val = {("a", 0): 0.93, ("a", 1): 0.96, ("b", 0): 0.97, ("b", 1): 0.95}
    same = {(*k, "val"): v for k, v in val.items()} | {(*k, "train"): v - 0.02
                                                       for k, v in val.items()}
    flipped = {(*k, "val"): v for k, v in val.items()} | {(*k, "train"): 2 - v
                                                          for k, v in val.items()}
    assert split_agreement(same) == pytest.approx(1.0)
    assert split_agreement(flipped) == pytest.approx(-1.0)
    # a model scored on one split only is left out
    assert split_agreement(same | {("c", 0, "val"): 0.5}) == pytest.approx(1.0)
