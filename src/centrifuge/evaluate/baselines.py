"""Trivial answers a separator must beat before it can be said to separate.

Identity (the blend copied into every layer) is not enough of a yardstick: on occlusion
blends *the blend plus a flat grey frame* scores 0.78× Identity, because the PIT loss
rewards any second output closer to the hidden layer than the blend is. A model
"separates" only where its loss is below the **best** of these:

* ``identity`` — ``[V, V]``;
* ``mean colour`` — ``[V, c]`` with c the clip's mean colour, a flat video;
* ``grey`` — ``[V, ½]``;
* ``black`` — ``[V, 0]``: "there is no second layer", the hedge to beat on reflection
  blends, where the reflection is faint (on camera-fixed reflection blends it scores
  0.90× Identity on the val split, docs/static-layer.md);
* ``blur`` — ``[V, blur(V)]``, a 15-px box blur of each frame (the low frequencies are
  shared by both layers; a hedge on transparent blends).

All take a mix ``(B, 3, T, H, W)`` and return outputs ``(B, 2, 3, T, H, W)``; extra
outputs of an n-layer model are not needed for PIT (it matches the best two).

:func:`without_motion` is a yardstick of another kind: the same blend with every frame
replaced by the first. A model that separates by motion — the cue a video has and a
photograph lacks — does worse on it than on the moving blend; the CPU campaign's models
do as well or better (``benchmarks/plateau.py``, docs/motion.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from centrifuge.losses import pit_loss

BLUR = 15


def _pair(mix: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    return torch.stack([mix, second.expand_as(mix)], dim=1)


def identity(mix: torch.Tensor) -> torch.Tensor:
    return _pair(mix, mix)


def mean_colour(mix: torch.Tensor) -> torch.Tensor:
    return _pair(mix, mix.mean(dim=(2, 3, 4), keepdim=True))


def grey(mix: torch.Tensor) -> torch.Tensor:
    return _pair(mix, torch.full_like(mix[:, :, :1, :1, :1], 0.5))


def black(mix: torch.Tensor) -> torch.Tensor:
    return _pair(mix, torch.zeros_like(mix[:, :, :1, :1, :1]))


def blur(mix: torch.Tensor, size: int = BLUR) -> torch.Tensor:
    """Box blur in space (edges replicated), frame by frame."""
    pad = size // 2
    x = F.pad(mix, (pad, pad, pad, pad, 0, 0), mode="replicate")
    return _pair(mix, F.avg_pool3d(x, (1, size, size), stride=1))


BASELINES = {"identity": identity, "mean colour": mean_colour, "grey": grey, "black": black,
             "blur": blur}


def baseline_losses(mix: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample PIT loss ``(B,)`` of every baseline on ``mix`` against ``targets``."""
    return {name: pit_loss(fn(mix), targets).per_sample for name, fn in BASELINES.items()}


def without_motion(video: torch.Tensor) -> torch.Tensor:
    """``video`` (..., T, H, W) with every frame the first: its motion taken out."""
    return video[..., :1, :, :].expand_as(video).contiguous()


def best_trivial(totals: dict[str, float]) -> tuple[str, float]:
    """The baseline with the lowest (mean) loss among ``totals`` (name → loss)."""
    name = min(totals, key=totals.get)
    return name, totals[name]
