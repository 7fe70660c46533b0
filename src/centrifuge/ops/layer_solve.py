"""Layers from their motions: a joint, robust least-squares solve on a reference canvas.

Given each layer's motion (homographies taking frame t's pixels to the reference frame's),
the clip is a linear function of the layers:

    average:  I_t = ½ A(M_t^A x) + ½ B(M_t^B x)                       (overlays, α = ½)
    add:      I_t^γ = A^γ(M_t^A x) + B^γ(M_t^B x)                     (glass: light adds)

A and B live on a canvas in the reference frame's coordinates, padded so that what a
moving layer shows in any frame has a place. Both are found at once by minimising

    Σ_t ρ(model_t − I_t) + λ Σ ρ(∇A) + λ Σ ρ(∇B) + μ · (distance outside [0, 1])²

with ρ the Charbonnier penalty √(x² + ε²) — robust, so that what rigid layers cannot
explain (a walking person, leaves, compression) costs little and does not smear over the
canvas; on the gradients it is the sparse-gradient prior of Levin & Weiss. L-BFGS on the
warps' exact adjoints (autograd through ``grid_sample``); no per-pixel Python.

Where nothing pins the split (the mean colour, smooth shading, a region only one layer
covers), the solve keeps its start: both layers start as the clip stabilised on their own
motion and averaged, which splits such content evenly.

Shapes: clip ``(3, T, H, W)``; motions ``(k, T, 3, 3)``; layers ``(k, 3, T, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from centrifuge.ops.homography import apply, corner_error, corners, sampling_grid, translation
from centrifuge.ops.light import to_display, to_linear
from centrifuge.ops.poisson import edge_strengths

EPS = 0.01  # Charbonnier's ε: below about 1 % of the range a difference costs quadratically
MODELS = ("average", "add")
# How sharply an overlay's unexplained part goes to the layer with the stronger edges
# there (see :func:`edge_shares`); chosen on the train split (auto, 12 blends per kind,
# 32×64², camera-fixed / two-motion × Identity): given to both 0.760 / 0.827, power 1
# 0.745 / 0.816 (a third more two-motion blends worse than the blend), power 2 0.746 /
# 0.815 (none more); with power 2 transparent 0.933 → 0.927, occlusion 1.205 → 1.196.
EDGE_POWER = 2.0


@dataclass
class Canvas:
    """Where the layers live: ``size`` (h, w) and each frame's grid into it per layer."""

    size: tuple[int, int]
    grids: torch.Tensor  # (k, T, H, W, 2) sampling grids, frame pixel → canvas
    to_canvas: torch.Tensor | None = None  # (k, T, 3, 3) float64, frame pixel → canvas pixel


def make_canvas(motions: torch.Tensor, frame: tuple[int, int], pad: float = 0.5) -> Canvas:
    """A canvas holding every frame's footprint under every layer's motion, at most
    ``pad`` of the frame's size beyond it on each side."""
    k = motions.shape[0]
    h, w = frame
    foot = apply(motions.double(), corners(frame))  # (k, T, 4, 2) in reference pixels
    lo = foot.amin(dim=(0, 1, 2)).clamp(min=torch.tensor([-pad * w, -pad * h]))
    hi = foot.amax(dim=(0, 1, 2)).clamp(max=torch.tensor([(1 + pad) * w, (1 + pad) * h]))
    lo, hi = lo.floor(), hi.ceil()
    size = (int(hi[1] - lo[1]) + 1, int(hi[0] - lo[0]) + 1)
    shift = translation(-float(lo[0]), -float(lo[1]))
    to_canvas = shift @ motions.double()  # frame pixel → canvas pixel
    grids = torch.stack([sampling_grid(to_canvas[i], frame, size, torch.float32)
                         for i in range(k)])
    return Canvas(size, grids, to_canvas)


def see(layers: torch.Tensor, canvas: Canvas) -> torch.Tensor:
    """Canvas layers ``(k, 3, Hc, Wc)`` as the frames show them: ``(k, 3, T, H, W)``."""
    k, t = canvas.grids.shape[:2]
    out = [F.grid_sample(layers[i : i + 1].expand(t, -1, -1, -1), canvas.grids[i],
                         mode="bilinear", padding_mode="border", align_corners=True)
           for i in range(k)]
    return torch.stack(out).permute(0, 2, 1, 3, 4)


def stabilised_mean(video: torch.Tensor, canvas: Canvas, layer: int) -> torch.Tensor:
    """The clip carried onto the canvas along one layer's motion and averaged over the
    frames that cover each canvas pixel: ``(3, Hc, Wc)`` (that layer sharp, the other
    smeared); the adjoint of :func:`see`, normalised."""
    frames = video.permute(1, 0, 2, 3)  # (T, 3, H, W)
    ones = torch.ones_like(frames[:, :1])
    x = torch.zeros(1, 4, *canvas.size, requires_grad=True)
    seen = F.grid_sample(x.expand(frames.shape[0], -1, -1, -1), canvas.grids[layer],
                         mode="bilinear", padding_mode="zeros", align_corners=True)
    (total,) = torch.autograd.grad((seen * torch.cat([frames, ones], 1)).sum(), x)
    total = total[0]
    return total[:3] / total[3:].clamp_min(1e-3) + (total[3:] < 1e-3) * video.mean((1, 2, 3))[
        :, None, None]


def _charbonnier(x: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(x * x + EPS * EPS)


def solve(video: torch.Tensor, motions: torch.Tensor | None, *, model: str = "average",
          smooth: float = 0.05, iterations: int = 60, canvas: Canvas | None = None,
          start: torch.Tensor | None = None) -> tuple[torch.Tensor, Canvas]:
    """The layers ``(k, 3, Hc, Wc)`` on their canvas that best explain ``video``
    ``(3, T, H, W)`` given ``motions`` ``(k, T, 3, 3)`` (module doc); in linear light for
    ``model="add"``. ``smooth`` is λ, the weight of the sparse-gradient prior per pixel.
    ``canvas``: solve on these sampling grids instead of the motions' (a canvas whose
    grids :mod:`~centrifuge.ops.residual_flow` moved); ``motions`` is then unused.
    ``start``: layers ``(k, 3, Hc, Wc)`` on that canvas to start from (an earlier solve's)
    instead of the clip stabilised on each layer's motion."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    with torch.enable_grad(), torch.autocast(video.device.type, enabled=False):
        video = video.float()
        if canvas is None:
            canvas = make_canvas(motions, tuple(video.shape[-2:]))
        k = canvas.grids.shape[0]
        target = to_linear(video) if model == "add" else video
        if start is None:
            start = torch.stack([stabilised_mean(target, canvas, i) for i in range(k)])
            if model == "add":
                start = start / k  # each layer starts as an even share of the light
        layers = start.clone().requires_grad_(True)
        weight = 1.0 if model == "add" else 1.0 / k
        pixels = video[0].numel()
        canvas_pixels = layers[0, 0].numel()
        opt = torch.optim.LBFGS([layers], lr=1, max_iter=iterations, history_size=10,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-7,
                                tolerance_change=1e-9)

        def closure():
            opt.zero_grad()
            model_t = weight * see(layers, canvas).sum(0)
            data = _charbonnier(model_t - target).sum() / pixels
            gx = layers[..., 1:] - layers[..., :-1]
            gy = layers[..., 1:, :] - layers[..., :-1, :]
            prior = (_charbonnier(gx).sum() + _charbonnier(gy).sum()) / canvas_pixels
            box = (F.relu(layers - 1) ** 2 + F.relu(-layers) ** 2).sum() / canvas_pixels
            loss = data + smooth * prior + 10.0 * box
            loss.backward()
            return loss

        opt.step(closure)
        return layers.detach().clamp(0, 1), canvas


def frames_of(layers: torch.Tensor, canvas: Canvas, video: torch.Tensor, *,
              model: str = "average", seen: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each layer as the frames show it, with what the layers do not explain shared out
    (an overlay's by :func:`edge_shares`, a reflection's by each layer's light; so the
    outputs still make the clip), ``(k, 3, T, H, W)`` in display values; and the
    unexplained part ``(3, T, H, W)`` (in linear light for ``add``). ``seen``: the
    layers' :func:`see`, where the caller has it already."""
    seen = see(layers, canvas) if seen is None else seen
    if model == "add":
        linear = to_linear(video)
        rest = linear - seen.sum(0)
        # the unexplained light goes to the layer that is brighter there (it cannot be
        # negative light): a share by each layer's own light
        share = seen / seen.sum(0, keepdim=True).clamp_min(1e-4)
        return to_display(seen + share * rest), rest
    rest = video - seen.mean(0)
    # k·share·rest keeps the outputs' mean the clip; an even share is rest to every layer
    return (seen + seen.shape[0] * edge_shares(seen) * rest).clamp(0, 1), rest


def edge_shares(seen: torch.Tensor, power: float = EDGE_POWER) -> torch.Tensor:
    """Each layer's share ``(k, 1, T, H, W)`` (summing to 1) of what the layers do not
    explain at each pixel: by the power of its edge energy there (3×3 mean of the squared
    luma gradient). What a rigid layer cannot follow — a face that talks, a branch in the
    wind, its own misfit — changes the clip where that layer has edges, so a talking face
    over a dark street stays in the face's layer; where neither has edges the share is
    even, as it was when the whole of it went to both."""
    grey = seen.mean(1)  # (k, T, H, W)
    dx = F.pad(grey[..., 1:] - grey[..., :-1], (0, 1))
    dy = F.pad(grey[..., 1:, :] - grey[..., :-1, :], (0, 0, 0, 1))
    k, t, h, w = grey.shape
    energy = F.avg_pool2d((dx**2 + dy**2).reshape(k * t, 1, h, w), 3, 1, 1,
                          count_include_pad=False).reshape(k, 1, t, h, w)
    weight = energy.pow(power) + 1e-12
    return weight / weight.sum(0, keepdim=True)


def explained(video: torch.Tensor, rest: torch.Tensor) -> float:
    """The share of the clip's gradient energy the layers account for: 1 − |∇r|² / |∇I|²
    (1: every edge explained by a moving layer; 0 or below: none)."""
    total = float(edge_strengths(video).pow(2).sum())
    return 1.0 - float(edge_strengths(rest).pow(2).sum()) / total if total > 0 else 0.0


def fit(video: torch.Tensor, seen: torch.Tensor, *, model: str = "average") -> float:
    """How well the layers as the frames show them (``seen``, :func:`see`'s) remake the
    clip, as :func:`explained` but always in display values — the one figure on which the
    two blend models can be compared (``add``'s own unexplained part is in linear light,
    whose darker values flatter it)."""
    remade = to_display(seen.sum(0).clamp(0, 1)) if model == "add" else seen.mean(0)
    return explained(video, video - remade)


def motion_gap(motions: torch.Tensor, frame: tuple[int, int]) -> float:
    """How far apart (px, RMS at the frame corners, the largest over frames) the layers'
    motions carry the frame: 0 when they move together, when nothing can be separated."""
    if motions.shape[0] < 2 or not motions.shape[1]:
        return 0.0
    return float(corner_error(motions[0], motions[1], frame).max())
