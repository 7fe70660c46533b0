"""Which two of the n output layers to keep (``--layers 2``).

The model returns n layers (4 for the shipped models) and the user wants the two that
make up the video. Rules, all computed in one streaming pass over any video length:

* ``dissimilar`` — the paper's (CVPR 2019 §3.2): the pair farthest apart in pixels,
  mean |Oⁱ − Oʲ|. It can pick two layers that are far apart because both are wrong.
* ``recompose`` (default) — the pair that best explains the input *and* differs: among
  the pairs at least half as far apart as the most dissimilar one, the pair whose best
  α-blend ``α·Oⁱ + (1−α)·Oʲ`` (one α for the whole video, within the [0.25, 0.75] the
  models are trained on) is closest to the input in mean squared error. Two layers that
  re-compose the video are what the separation claims to be. The α range matters: with
  α free, a near-copy of the input (residual models start from one) paired with any
  layer would re-compose the input perfectly at α = 1.

Why these: ``centrifuge evaluate --rules`` compares both and the oracle (the best pair
chosen with the ground truth) on the val split; the README has the table.

Shape: layers ``(n, 3, t, H, W)`` and the input ``(3, t, H, W)`` in [0, 1], per block.
"""

from __future__ import annotations

import torch

from centrifuge.errors import ConfigError
from centrifuge.losses import layer_distances

RULES = ("recompose", "dissimilar")
DEFAULT_RULE = "recompose"
DISTANCE_FLOOR = 0.5  # a candidate pair is at least this share of the largest distance apart
ALPHA_RANGE = (0.25, 0.75)  # the blend weights the models are trained on


class PairStats:
    """Running sums over a stream of blocks, enough to apply every rule at the end.

    For each ordered pair (i, j), with ``a = Oⁱ − Oʲ`` and ``b = V − Oʲ``: Σ|a|, Σa²,
    Σab, Σb². The best α of a pair is ``Σab / Σa²`` (clamped to :data:`ALPHA_RANGE`) and
    its squared error ``Σb² − 2α Σab + α² Σa²`` — no second pass over the video.
    """

    def __init__(self, n: int):
        self.n = n
        z = torch.zeros(n, n, dtype=torch.float64)
        self.abs, self.aa, self.ab, self.bb = z.clone(), z.clone(), z.clone(), z.clone()
        self.count = 0

    def update(self, layers: torch.Tensor, video: torch.Tensor) -> None:
        x = layers.float().flatten(1)  # (n, P)
        self.abs += layer_distances(x[None])[0].double().cpu() * x.shape[1]
        resid = video.float().flatten()[None] - x  # V − Oj, (n, P)
        bb = (resid * resid).sum(-1).double()
        for i in range(self.n):  # pair by pair: memory of two layers, not n² of them
            for j in range(self.n):
                if i == j:
                    continue
                a = x[i] - x[j]
                self.aa[i, j] += float((a * a).sum())
                self.ab[i, j] += float((a * resid[j]).sum())
                self.bb[i, j] += float(bb[j])
        self.count += x.shape[1]

    def distance(self) -> torch.Tensor:
        """Mean |Oⁱ − Oʲ| ``(n, n)``."""
        return self.abs / max(1, self.count)

    def recomposition_error(self) -> torch.Tensor:
        """Mean squared error ``(n, n)`` of each pair's best α-blend to the input."""
        alpha = (self.ab / self.aa.clamp_min(1e-12)).clamp(*ALPHA_RANGE)
        err = self.bb - 2 * alpha * self.ab + alpha**2 * self.aa
        return err.clamp_min(0) / max(1, self.count)

    def pick(self, rule: str = DEFAULT_RULE) -> tuple[int, int]:
        """The kept pair ``(i, j)``, ``i < j``, by ``rule``."""
        if rule not in RULES:
            raise ConfigError(f"selection rule must be one of {', '.join(RULES)}, got {rule!r}")
        d = self.distance()
        off = ~torch.eye(self.n, dtype=torch.bool)
        if rule == "dissimilar":
            score = torch.where(off, d, torch.full_like(d, -1.0))
            i, j = divmod(int(score.argmax()), self.n)
        else:
            err = self.recomposition_error()
            err = torch.minimum(err, err.T)  # (i, j) and (j, i) are the same pair
            ok = off & (d >= DISTANCE_FLOOR * d[off].max())
            score = torch.where(ok, err, torch.full_like(err, float("inf")))
            i, j = divmod(int(score.argmin()), self.n)
        return (min(i, j), max(i, j))


def pair_stats(layers: torch.Tensor, video: torch.Tensor) -> PairStats:
    """:class:`PairStats` of layers ``(n, 3, T, H, W)`` of ``video`` ``(3, T, H, W)``."""
    stats = PairStats(layers.shape[0])
    stats.update(layers, video)
    return stats


def select_pair(layers: torch.Tensor, video: torch.Tensor, rule: str = DEFAULT_RULE
                ) -> tuple[int, int]:
    """The pair a rule keeps for layers ``(n, 3, T, H, W)`` of ``video`` ``(3, T, H, W)``."""
    return pair_stats(layers, video).pick(rule)
