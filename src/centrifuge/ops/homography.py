"""Plane-to-plane motions (3×3 homographies) and the warps they make.

Conventions, as OpenCV's: a point is ``(x, y)`` in pixels of its image, pixel centres at
whole numbers (column, row); a homography ``M`` maps a point of one image to a point of
another, ``p' ~ M p`` in homogeneous coordinates. :func:`sample` reads an image *through*
a homography: output pixel ``p`` takes the input's value at ``M p`` (bilinear), which is
how a layer on a reference canvas is seen in frame t when ``M`` maps frame t to the
canvas.

Shapes: images ``(N, C, H, W)``, homographies ``(N, 3, 3)`` (float64 where they are
composed, so long chains keep sub-pixel accuracy).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def sample(images: torch.Tensor, homographies: torch.Tensor, size: tuple[int, int],
           *, padding: str = "border") -> torch.Tensor:
    """``images`` ``(N, C, H, W)`` seen through ``homographies`` ``(N, 3, 3)`` (output
    pixel → input pixel) at ``size`` (h, w): ``(N, C, h, w)``, bilinear; outside the input,
    ``padding`` as :func:`torch.nn.functional.grid_sample` has it."""
    n, _, hin, win = images.shape
    grid = sampling_grid(homographies, size, (hin, win), images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding,
                         align_corners=True)


def sampling_grid(homographies: torch.Tensor, size: tuple[int, int],
                  source: tuple[int, int], dtype: torch.dtype, *,
                  fast: bool = False) -> torch.Tensor:
    """``grid_sample``'s grid ``(N, h, w, 2)`` reading a ``source``-sized input through
    ``homographies`` (output pixel → input pixel) at ``size``: what :func:`sample` uses,
    kept by callers that sample through the same motions many times.

    ``fast``: the normalisation folded into the homographies (in float64) and the
    per-pixel map in float32 — 3–5× faster at 128² with 81 homographies (the occluder's
    shift search), within 1e-4 px at 1500 px. Not the default: the motion methods' discrete
    choices (which layer is still, whether a clip separates) are that sensitive, and a
    1e-5 px change moved `auto`'s two-motion-reflection val 0.624 → 0.646."""
    h, w = size
    hin, win = source
    dev = homographies.device
    if fast:
        # align_corners=True: -1 and 1 are the centres of the first and last pixels
        norm = torch.tensor([[2 / max(win - 1, 1), 0, -1], [0, 2 / max(hin - 1, 1), -1],
                             [0, 0, 1]], dtype=torch.float64, device=dev)
        m = (norm @ homographies.double()).float()[..., None, None]  # (N, 3, 3, 1, 1)
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=dev),
                                torch.arange(w, dtype=torch.float32, device=dev),
                                indexing="ij")
        x, y, z = (m[:, r, 0] * xs + m[:, r, 1] * ys + m[:, r, 2] for r in range(3))
        z = z.clamp_min(1e-12)
        return torch.stack([x / z, y / z], -1).to(dtype)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64, device=dev),
                            torch.arange(w, dtype=torch.float64, device=dev), indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3)  # (hw, 3)
    mapped = points @ homographies.double().transpose(1, 2)  # (N, hw, 3)
    xy = mapped[..., :2] / mapped[..., 2:].clamp_min(1e-12)
    # align_corners=True: -1 and 1 are the centres of the first and last pixels
    scale = torch.tensor([2 / max(win - 1, 1), 2 / max(hin - 1, 1)], dtype=torch.float64,
                         device=dev)
    return (xy * scale - 1).reshape(-1, h, w, 2).to(dtype)


def apply(homographies: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Points ``(..., K, 2)`` mapped by ``homographies`` ``(..., 3, 3)``: ``(..., K, 2)``."""
    p = torch.cat([points, torch.ones_like(points[..., :1])], -1)
    q = p @ homographies.transpose(-1, -2)
    return q[..., :2] / q[..., 2:]


def corners(size: tuple[int, int], dtype=torch.float64) -> torch.Tensor:
    """The four corner pixels of an image of ``size`` (h, w): ``(4, 2)`` as (x, y)."""
    h, w = size
    return torch.tensor([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=dtype)


def corner_error(estimated: torch.Tensor, true: torch.Tensor,
                 size: tuple[int, int]) -> torch.Tensor:
    """RMS distance (px) between where two homographies ``(..., 3, 3)`` send the frame's
    four corners: ``(...)`` — the motion-recovery error of the benchmarks."""
    c = corners(size, torch.float64)
    d = apply(estimated.double(), c) - apply(true.double(), c)
    return d.pow(2).sum(-1).mean(-1).sqrt()


def similarity(scale: float, angle: float, shift: tuple[float, float],
               centre: tuple[float, float]) -> torch.Tensor:
    """``(3, 3)``: zoom by ``scale`` and turn by ``angle`` (radians) about ``centre``
    (x, y), then move by ``shift`` (x, y)."""
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    cx, cy = centre
    return torch.tensor([[c, -s, cx - c * cx + s * cy + shift[0]],
                         [s, c, cy - s * cx - c * cy + shift[1]],
                         [0.0, 0.0, 1.0]], dtype=torch.float64)


def translation(dx: float, dy: float) -> torch.Tensor:
    """``(3, 3)``: move by (dx, dy) pixels."""
    return torch.tensor([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]],
                        dtype=torch.float64)
