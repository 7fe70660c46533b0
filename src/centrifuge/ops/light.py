"""Display values ↔ linear light. Light adds in linear light, not in the gamma-encoded
values a video stores: a reflection in glass is the sum of two linear images
(``data.mixing.reflection_blend`` makes such blends, ``static-reflection`` undoes them).
A plain power law, γ = 2.2, stands in for the sRGB curve (the two differ by < 1 %
of the range, far under what a blend's unknown strengths hide)."""

from __future__ import annotations

import torch

GAMMA = 2.2


def to_linear(x: torch.Tensor) -> torch.Tensor:
    """Display values in [0, 1] → linear light (clamped into [0, 1] first)."""
    return x.clamp(0, 1) ** GAMMA


def to_display(x: torch.Tensor) -> torch.Tensor:
    """Linear light → display values in [0, 1] (clamped into [0, 1] first)."""
    return x.clamp(0, 1) ** (1 / GAMMA)
