"""Which two of the n output layers to keep (``--layers 2``).

The model returns n layers (2 for the default model, 4 for v1 and the paper's recipes)
and the user wants the two that make up the video. Rules, all computed in one streaming
pass over any video length:

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
        self.input_abs = torch.zeros(n, dtype=torch.float64)  # Σ|V − Oʲ|
        self.count = 0

    def update(self, layers: torch.Tensor, video: torch.Tensor) -> None:
        x = layers.float().flatten(1)  # (n, P)
        resid = video.float().flatten()[None] - x  # V − Oʲ, (n, P)
        # norms and dot products: one read of their inputs, no temporaries
        self.input_abs += torch.linalg.vector_norm(resid, ord=1, dim=-1).double().cpu()
        bb = torch.linalg.vector_norm(resid, dim=-1).double().cpu() ** 2
        for i in range(self.n):  # pair by pair: memory of two layers, not n² of them
            for j in range(i + 1, self.n):
                a = x[i] - x[j]  # a of (i, j); (j, i) has −a
                aa, dist = float(torch.dot(a, a)), float(torch.linalg.vector_norm(a, ord=1))
                self.aa[i, j] += aa
                self.aa[j, i] += aa
                self.abs[i, j] += dist
                self.abs[j, i] += dist
                self.ab[i, j] += float(torch.dot(a, resid[j]))
                self.ab[j, i] -= float(torch.dot(a, resid[i]))
                self.bb[i, j] += float(bb[j])
                self.bb[j, i] += float(bb[i])
        self.count += x.shape[1]

    def to_input(self) -> torch.Tensor:
        """Mean |V − Oʲ| ``(n,)``: how far each layer is from the input."""
        return self.input_abs / max(1, self.count)

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


class LayerStats:
    """What ``centrifuge separate`` reports about its layers, summed block by block:
    :class:`PairStats` on a 2×2 grid (selection and the distance to the input need
    means, not every pixel: ¼ of the cost) and every pixel's colour sums."""

    def __init__(self, n: int):
        self.pairs = PairStats(n)
        self.sums = torch.zeros(n, 3, dtype=torch.float64)
        self.squares = torch.zeros(n, 3, dtype=torch.float64)
        self.pixels = 0

    def update(self, layers: torch.Tensor, video: torch.Tensor) -> None:
        self.pairs.update(layers[..., ::2, ::2], video[..., ::2, ::2])
        # fp32 within a frame (pairwise summation; a norm reads x once), fp64 across frames
        x = layers.float()
        self.sums += x.sum(dim=(3, 4)).double().sum(-1)
        self.squares += (torch.linalg.vector_norm(x, dim=(3, 4)).double() ** 2).sum(-1)
        self.pixels += x.shape[2] * x.shape[3] * x.shape[4]

    def summary(self) -> list[dict]:
        """Per layer: mean colour, pixel standard deviation, mean |layer − input|."""
        px = max(1, self.pixels)
        mean, to_input = self.sums / px, self.pairs.to_input()
        std = (self.squares / px - mean**2).clamp_min(0).sqrt()
        return [
            {"mean_rgb": [round(float(v), 4) for v in mean[i]],
             "std": round(float(std[i].mean()), 4),
             "mean_abs_diff_to_input": round(float(to_input[i]), 4)}
            for i in range(len(mean))
        ]


def pair_stats(layers: torch.Tensor, video: torch.Tensor) -> PairStats:
    """:class:`PairStats` of layers ``(n, 3, T, H, W)`` of ``video`` ``(3, T, H, W)``."""
    stats = PairStats(layers.shape[0])
    stats.update(layers, video)
    return stats

