"""Answers that are told part of the truth: how low a blend type's yardstick can go.

The trivial baselines (:mod:`centrifuge.evaluate.baselines`) are the floor a separator
must get under; these are the other end. Each is handed something no separator has —
the true occlusion mask, each layer's mean colour, each layer's low frequencies, which
layer each edge of the blend belongs to — and
otherwise answers as simply as it can. Where even a told answer cannot get 20 % under
the best trivial baseline, no separator will: the target asks for knowledge the blend
does not hold (``benchmarks/ceilings.py``, docs/campaign.md).

Occlusion blends (ICCV §3.3) paste one SLIC supervoxel of V¹ over V² — about a tenth of
the frame — and ask for *both* whole videos back. With the mask known, V² outside it and
V¹ inside are exact; the rest of V¹, most of its frame, was never in the blend.

All take ``mix (B, 3, T, H, W)``, ``targets (B, 2, 3, T, H, W)`` and ``alpha (B, 1, T, H,
W)`` (the blend's α: 1 where V¹ shows) and return outputs ``(B, 2, 3, T, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from centrifuge.evaluate.baselines import BLUR, blur
from centrifuge.models.small import edge_layers
from centrifuge.ops.poisson import edge_owners


def fill_holes(x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """``x (B, C, T, H, W)`` with pixels where ``known (B, 1, T, H, W)`` is 0 filled from
    the known ones around them, frame by frame (push-pull: masked means over 2×, 4×, …
    coarser grids, each hole taking the finest mean that reaches it). A frame with no
    known pixel stays as it is."""
    b, c, t, h, w = x.shape
    frames = x.transpose(1, 2).reshape(b * t, c, h, w)
    weight = known.transpose(1, 2).reshape(b * t, 1, h, w).to(x.dtype)
    levels = [(frames * weight, weight)]
    while min(levels[-1][1].shape[-2:]) > 1:
        s, k = levels[-1]
        levels.append((F.avg_pool2d(s, 2, ceil_mode=True), F.avg_pool2d(k, 2, ceil_mode=True)))
    s, k = levels[-1]
    fill = s / k.clamp_min(1e-8)
    for s, k in reversed(levels[:-1]):
        fill = F.interpolate(fill, size=s.shape[-2:], mode="bilinear", align_corners=False)
        fill = torch.where(k > 0, s / k.clamp_min(1e-8), fill)  # known pixels: k = 1, s = x
    no_known = levels[-1][1].sum((-2, -1), keepdim=True) == 0
    fill = torch.where(no_known, frames, fill)
    return fill.reshape(b, t, c, h, w).transpose(1, 2)


def _median_colour(x: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Per-sample, per-channel median of ``x`` over ``where`` (the L1-best flat colour),
    ``(B, 3, 1, 1, 1)``; ½ where ``where`` is empty."""
    out = []
    for xi, wi in zip(x, where.expand_as(x).bool(), strict=True):
        rows = [xi[ch][wi[ch]] for ch in range(xi.shape[0])]
        out.append(torch.stack([r.median() if r.numel() else xi.new_tensor(0.5)
                                for r in rows]))
    return torch.stack(out)[:, :, None, None, None]


def _told_mask(mix: torch.Tensor, mask: torch.Tensor, hidden_fill: torch.Tensor,
               second: torch.Tensor | None = None) -> torch.Tensor:
    first = mask * mix + (1 - mask) * hidden_fill
    if second is None:
        second = fill_holes(mix, 1 - mask)
    return torch.stack([first, second], dim=1)


def told_mask(mix, targets, alpha):
    """The true mask: V¹ = the blend inside it and the blend's median colour there
    outside; V² = the blend outside it, filled in inside (:func:`fill_holes`)."""
    mask = (alpha > 0.5).to(mix.dtype)
    return _told_mask(mix, mask, _median_colour(mix, mask))


def told_mask_and_colour(mix, targets, alpha):
    """As :func:`told_mask`, and V¹'s hidden part filled with its true median colour."""
    mask = (alpha > 0.5).to(mix.dtype)
    return _told_mask(mix, mask, _median_colour(targets[:, 0], 1 - mask))


def told_mask_and_blur(mix, targets, alpha):
    """As :func:`told_mask`, and V¹'s hidden part filled with its true 15-px blur: all
    of its low frequencies."""
    mask = (alpha > 0.5).to(mix.dtype)
    return _told_mask(mix, mask, blur(targets[:, 0])[:, 1])


def told_mask_and_background(mix, targets, alpha):
    """As :func:`told_mask_and_colour`, with V² given whole (a perfect fill under the
    occluder): what is left is V¹'s hidden part alone."""
    mask = (alpha > 0.5).to(mix.dtype)
    return _told_mask(mix, mask, _median_colour(targets[:, 0], 1 - mask), targets[:, 1])


def told_colours(mix, targets, alpha):
    """Transparent α = ½: the blend moved by half the difference of the layers' true mean
    colours, ``V ± (μ¹ − μ²)/2`` — everything a colour cast can tell."""
    mean = targets.mean(dim=(3, 4, 5), keepdim=True)
    half = (mean[:, 0] - mean[:, 1]) / 2
    return torch.stack([mix + half, mix - half], dim=1)


def told_blurs(mix, targets, alpha):
    """Transparent α = ½: ``V ± (B(V¹) − B(V²))/2`` with B the 15-px blur — every low
    frequency of both layers known, the fine detail still shared."""
    b1, b2 = blur(targets[:, 0])[:, 1], blur(targets[:, 1])[:, 1]
    half = (b1 - b2) / 2
    return torch.stack([mix + half, mix - half], dim=1)


def told_edges(mix, targets, alpha):
    """Transparent blends: each of the blend's edges (per pixel, colour channel and
    direction) handed whole to the layer whose own edge there is the stronger, each layer
    the Poisson integral of its edges (:func:`~centrifuge.models.small.edge_layers`, the
    edge head's output with certain owners)."""
    first = edge_owners(targets[:, 0], targets[:, 1])
    return edge_layers(mix, torch.stack([first, 1 - first], dim=1))


CEILINGS = {
    "occlusion": {
        "told the mask": told_mask,
        "told the mask and V¹'s hidden colour": told_mask_and_colour,
        f"told the mask and V¹'s hidden {BLUR}-px blur": told_mask_and_blur,
        "told the mask, V¹'s hidden colour and V² whole": told_mask_and_background,
    },
    "transparent": {
        "told both layers' mean colours": told_colours,
        f"told both layers' {BLUR}-px blurs": told_blurs,
        "told which layer owns each edge": told_edges,
    },
}
