"""Images from their gradients: forward differences and their least-squares inverse (a
Poisson solve by FFT), over frames mirrored so that the borders add no edges.

Used by ``static_layer`` (the still layer from the temporal median of the gradients,
:mod:`centrifuge.methods.static`) and by ``centrifuge_small``'s edge head (each layer
rebuilt from the blend's gradients it owns, :mod:`centrifuge.models.small`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def mirror(x: torch.Tensor) -> torch.Tensor:
    """``x`` (..., H, W) → (..., 2H, 2W), reflected: periodic with no jump at the borders."""
    x = torch.cat([x, x.flip(-1)], dim=-1)
    return torch.cat([x, x.flip(-2)], dim=-2)


def mirror_edges(ex: torch.Tensor, ey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-edge values ``ex, ey`` (..., H, W) — one for each of an image's x and y forward
    differences, such as who owns that edge — laid out as the edges of its :func:`mirror`.
    In a reflected copy the edge between pixels j and j + 1 is the difference at
    2W − 2 − j, so along its own axis the reflection is shifted by one pixel (a plain
    :func:`mirror` would pair each edge with its neighbour's value)."""

    def reflect(x, dim, shift):
        r = x.flip(dim)
        return torch.cat([x, torch.roll(r, -1, dim) if shift else r], dim=dim)

    return (reflect(reflect(ex, -1, True), -2, False),
            reflect(reflect(ey, -1, False), -2, True))


def gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Periodic forward differences along W and H."""
    return torch.roll(x, -1, -1) - x, torch.roll(x, -1, -2) - x


def edge_strengths(video: torch.Tensor) -> torch.Tensor:
    """``|x|`` then ``|y|`` forward differences of ``video`` ``(..., C, T, H, W)`` →
    ``(..., 2C, T, H, W)``, the layout of the edge head's owners; zero past the last
    column and row (the periodic wrap-around of :func:`gradients` is no edge of the
    frame)."""
    dx = F.pad(video[..., 1:] - video[..., :-1], (0, 1))
    dy = F.pad(video[..., 1:, :] - video[..., :-1, :], (0, 0, 0, 1))
    return torch.cat([dx, dy], dim=-4).abs()


def edge_owners(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """1 where ``first``'s edge is stronger than ``second``'s (:func:`edge_strengths`
    layout): the layer that owns each edge of their blend, for the edge head's told
    answer (``evaluate.ceilings.told_edges``) and its training signal
    (``losses.edge_owner_loss``)."""
    return (edge_strengths(first) > edge_strengths(second)).to(first.dtype)


def integrate(gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """The zero-mean image (..., H, W) whose :func:`gradients` are closest to ``gx, gy``
    in least squares (exact when they are an image's gradients)."""
    h, w = gx.shape[-2:]
    # real input: half the spectrum along W (rfft2) is all there is, at half the cost
    fy = torch.fft.fftfreq(h, device=gx.device, dtype=gx.dtype).reshape(h, 1)
    fx = torch.fft.rfftfreq(w, device=gx.device, dtype=gx.dtype).reshape(1, -1)
    dx = torch.exp(2j * math.pi * fx) - 1  # the difference operators' frequency responses
    dy = torch.exp(2j * math.pi * fy) - 1
    den = dx.abs() ** 2 + dy.abs() ** 2
    den[0, 0] = 1  # the mean: not determined by gradients, set to zero below
    spectrum = (dx.conj() * torch.fft.rfft2(gx) + dy.conj() * torch.fft.rfft2(gy)) / den
    spectrum[..., 0, 0] = 0
    return torch.fft.irfft2(spectrum, s=(h, w))
