"""Whether one training recipe beats another on real video: arms over seeds and splits.

A 20-minute model's real-val ratio moves by ±0.02 with its training seed (docs/prior.md,
"Four seeds"), so one run per arm cannot tell recipes apart. These functions summarise
a grid of scores — ``(arm, seed, split) → ratio`` — into per-arm means and spreads,
differences to a reference arm paired by seed, and the rank agreement of two splits
(``benchmarks/seeds.py`` fills the grid).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

Key = tuple[str, int, str]  # arm, seed, split


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        raise ValueError("no values to summarise")
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), spread


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation, ties sharing their average rank (NaN with fewer than
    3 pairs or a constant side, where scipy would return ±1 or warn)."""
    from scipy.stats import spearmanr

    if len(x) != len(y):
        raise ValueError(f"spearman needs pairs, got {len(x)} and {len(y)} values")
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan
    return float(spearmanr(x, y)[0])


def compare_arms(scores: Mapping[Key, float], reference: str) -> list[dict]:
    """One row per arm and split: seeds, mean and spread of the ratio, and the mean and
    spread of its difference to ``reference`` over the seeds both have (a negative
    difference: better than the reference)."""
    arms = list(dict.fromkeys(a for a, _, _ in scores))
    if reference not in arms:
        raise ValueError(f"reference arm {reference!r} has no scores; arms: {arms}")
    rows = []
    for split in dict.fromkeys(s for _, _, s in scores):
        ref = {seed: v for (a, seed, s), v in scores.items() if a == reference and s == split}
        for arm in arms:
            own = {seed: v for (a, seed, s), v in scores.items() if a == arm and s == split}
            if not own:
                continue
            mean, spread = mean_spread(list(own.values()))
            paired = [own[seed] - ref[seed] for seed in own if seed in ref]
            diff = mean_spread(paired) if paired and arm != reference else (math.nan, math.nan)
            rows.append(dict(arm=arm, split=split, seeds=sorted(own), mean=mean, spread=spread,
                             diff=diff[0], diff_spread=diff[1], paired=len(paired)))
    return rows


def split_agreement(scores: Mapping[Key, float], a: str = "val", b: str = "train") -> float:
    """Spearman correlation, over every (arm, seed) scored on both splits, of their
    ratios on split ``a`` and split ``b``: near 1 when a model that is better on one set
    of clips is better on the other too (with the corpus train clips, which training
    has seen, a check of memory rather than of transfer)."""
    both = [(arm, seed) for arm, seed, s in scores if s == a and (arm, seed, b) in scores]
    return spearman([scores[(*k, a)] for k in both], [scores[(*k, b)] for k in both])
