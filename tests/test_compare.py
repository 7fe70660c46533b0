"""Arms over seeds and splits (centrifuge.evaluate.compare): the statistics that decide
whether a recipe beats another on real video."""

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from centrifuge.evaluate.compare import (
    compare_arms,
    mean_spread,
    ranks,
    spearman,
    split_agreement,
)


def test_mean_and_sample_spread():
    assert mean_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_spread([0.9]) == (0.9, 0.0)
    with pytest.raises(ValueError):
        mean_spread([])


def test_ties_share_their_average_rank():
    assert ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 5, 9).astype(float)
        y = x + rng.integers(-3, 4, 9)
        assert spearman(list(x), list(y)) == pytest.approx(spearmanr(x, y)[0])
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 2], [2, 1]))
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


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
