"""Synthetic layer compositions: transparent, occlusion and reflection blends, frozen and
pure-colour clips (CVPR 2019 §3.1, §4.2; ICCV 2019 §3.3).

Convention (ICCV eq. 3): ``V = α ⊙ V¹ + (1 − α) ⊙ V²`` with α the per-pixel weight of
the first video. The CVPR paper writes eq. (1) with α on V² — at its default α = ½ the
two agree, and our α ranges are symmetric around ½.

Videos are ``(3, T, H, W)`` float tensors in [0, 1]; α masks are ``(1, T, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from centrifuge.ops.light import to_display, to_linear

# σ range of a camera's sensor noise on [0, 1] pixels: the synthetic generator's per-layer
# noise and the noise BlendedPairs adds to a blend (``sensor_noise``) draw from it.
SENSOR_NOISE_SIGMA = (0.005, 0.03)

PURE_COLOURS: dict[str, tuple[float, float, float]] = {
    "black": (0.0, 0.0, 0.0),
    "white": (1.0, 1.0, 1.0),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
}


def blend(v1: torch.Tensor, v2: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """``α ⊙ V¹ + (1 − α) ⊙ V²`` (α a number or a mask broadcastable to the videos)."""
    return alpha * v1 + (1.0 - alpha) * v2


def match_colour(layers: torch.Tensor) -> torch.Tensor:
    """Layers ``(..., 2, 3, T, H, W)`` with each channel's mean and standard deviation set
    to the two layers' average, per pair: no palette or contrast tells them apart, what
    is left is structure (and motion). Colour-matched training blends gave the campaign's
    networks better real-val ratios than natural ones (docs/motion.md)."""
    mean = layers.mean((-3, -2, -1), keepdim=True)
    std = layers.std((-3, -2, -1), keepdim=True).clamp_min(1e-3)
    target_mean, target_std = mean.mean(-5, keepdim=True), std.mean(-5, keepdim=True)
    return ((layers - mean) / std * target_std + target_mean).clamp(0, 1)


def transparent_alpha(shape: tuple[int, ...], alpha: float) -> torch.Tensor:
    """Constant α mask ``(1, T, H, W)``: transparent blending (CVPR eq. 1)."""
    return torch.full((1, *shape), float(alpha))


def occlusion_alpha(mask: np.ndarray) -> torch.Tensor:
    """α = 1 inside a supervoxel of V¹ and 0 elsewhere (ICCV §3.3): ``(1, T, H, W)``."""
    return torch.from_numpy(mask.astype(np.float32))[None]


def frozen(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One frame of ``clip`` ``(T, H, W, 3)`` repeated T times: a video without motion."""
    k = int(rng.integers(len(clip)))
    return np.repeat(clip[k : k + 1], len(clip), axis=0)


def pure_colour(name: str, frames: int, height: int, width: int) -> torch.Tensor:
    """An "empty" video of one colour, ``(3, T, H, W)`` — the psychophysics filters."""
    if name not in PURE_COLOURS:
        raise ValueError(f"unknown colour {name!r}; known: {', '.join(PURE_COLOURS)}")
    rgb = torch.tensor(PURE_COLOURS[name]).view(3, 1, 1, 1)
    return rgb.expand(3, frames, height, width).clone()


@dataclass
class Reflection:
    """A reflection-style blend: ``mix`` and the two layers as they enter it."""

    mix: torch.Tensor
    transmission: torch.Tensor  # V¹ after its attenuation, display gamma
    reflection: torch.Tensor  # V² after blur / ghost / vignette / attenuation, display gamma
    alpha: float  # the nominal share of V¹, for the optional re-composition loss


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(3, T, H, W)`` over H and W (reflect padding)."""
    r = max(1, int(round(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k = (k / k.sum()).to(x)
    c, t, h, w = x.shape
    y = x.permute(1, 0, 2, 3).reshape(t * c, 1, h, w)
    y = F.pad(y, (r, r, r, r), mode="reflect" if min(h, w) > r else "replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    y = F.conv2d(y, k.view(1, 1, -1, 1))
    return y.view(t, c, h, w).permute(1, 0, 2, 3)


def _vignette(h: int, w: int, rng: np.random.Generator) -> torch.Tensor:
    """A random crop of a wide Gaussian spot: ``(H, W)`` in (0, 1]."""
    cy, cx = rng.uniform(-0.5, 1.5, size=2)
    s = rng.uniform(0.5, 1.5)
    yy = torch.linspace(0, 1, h)[:, None]
    xx = torch.linspace(0, 1, w)[None, :]
    g = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return g / g.max()


def reflection_blend(v1: torch.Tensor, v2: torch.Tensor, rng: np.random.Generator) -> Reflection:
    """V¹ seen through glass that reflects V², after the reflection-removal literature.

    In linear light (γ 2.2): the reflection is blurred with σ ∈ [0, 4] px (a third of the
    time not at all: sharp reflections are common on windscreens), sometimes ghosted (a
    shifted, attenuated second copy, as from a double pane), multiplied by a random
    vignette, and attenuated; the transmission is attenuated too; the two are added and
    over-exposure is pulled back by lowering the reflection where the sum exceeds 1
    (Zhang et al. 2018, CEILNet), then clipped and returned to display gamma. The layers
    are returned as they enter the sum, so the loss asks for what is recoverable (the
    blurred reflection, not a deconvolution of it).

    Shape:
        ``(3, T, H, W)`` twice in [0, 1] → :class:`Reflection` of ``(3, T, H, W)``.
    """
    _, _, h, w = v2.shape
    t_lin = to_linear(v1)
    r_lin = to_linear(v2)
    if rng.random() > 1 / 3:
        r_lin = _gaussian_blur(r_lin, float(rng.uniform(0.5, 4.0)))
    if rng.random() < 0.3:  # ghosting
        dy, dx = (int(v) for v in rng.integers(-max(2, h // 16), max(2, h // 16) + 1, size=2))
        shifted = torch.roll(r_lin, shifts=(dy, dx), dims=(2, 3))
        g = float(rng.uniform(0.2, 0.6))
        r_lin = (r_lin + g * shifted) / (1 + g)
    if rng.random() < 0.5:
        r_lin = r_lin * _vignette(h, w, rng)
    a_t = float(rng.uniform(0.55, 0.9))
    a_r = float(rng.uniform(0.3, 0.8))
    t_lin, r_lin = a_t * t_lin, a_r * r_lin
    total = t_lin + r_lin
    over = total[total > 1]
    if over.numel():
        excess = float((over - 1).mean())
        r_lin = (r_lin - float(rng.uniform(1.08, 1.3)) * excess).clamp_min(0)
        total = t_lin + r_lin
    return Reflection(to_display(total), to_display(t_lin), to_display(r_lin),
                      a_t / (a_t + a_r))


def glass_or_overlay(v1: torch.Tensor, v2: torch.Tensor, rng: np.random.Generator,
                     reflection: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                torch.Tensor]:
    """``(v1, v2, mix, alpha)`` of the synthetic-camera blends (camera-fixed, two-motion):
    ``½(V¹ + V²)``, or with ``reflection`` V² seen through glass that faintly reflects V¹
    (:func:`reflection_blend`; the targets then as they enter that sum). ``(3, T, H, W)``."""
    if reflection:
        r = reflection_blend(v2, v1, rng)
        alpha = transparent_alpha(tuple(r.reflection[:1].shape[1:]), 1 - r.alpha)
        return r.reflection, r.transmission, r.mix, alpha
    alpha = transparent_alpha(tuple(v1[:1].shape[1:]), 0.5)
    return v1, v2, blend(v1, v2, alpha), alpha
