"""Synthetic layer compositions: transparent and occlusion blends, frozen and pure-colour
clips (CVPR 2019 §3.1, §4.2; ICCV 2019 §3.3).

Convention (ICCV eq. 3): ``V = α ⊙ V¹ + (1 − α) ⊙ V²`` with α the per-pixel weight of
the first video. The CVPR paper writes eq. (1) with α on V² — at its default α = ½ the
two agree, and our α ranges are symmetric around ½.

Videos are ``(3, T, H, W)`` float tensors in [0, 1]; α masks are ``(1, T, H, W)``.
"""

from __future__ import annotations

import numpy as np
import torch

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
