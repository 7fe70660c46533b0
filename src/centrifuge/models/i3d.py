"""Inception-v1 I3D (Carreira & Zisserman, CVPR 2017), the Visual Centrifuge's encoder.

The DeepMind architecture exactly — ``Conv3d_1a_7x7`` … ``Mixed_5c`` with the published
channel widths, TF SAME padding and BatchNorm (eps 1e-3) — so that the Kinetics-400
weights (:mod:`centrifuge.models.kinetics`) give the same numbers as the original. Extras
for this project:

* ``final_endpoint``: stop at ``Mixed_3c``, ``Mixed_4f`` or ``Mixed_5c`` (the paper's
  Table 4); :meth:`InceptionI3d.forward` returns every endpoint the decoder's skip
  connections need;
* ``width``: a channel multiplier (1, ½, ¼, …) for CPU-sized variants;
* ``in_channels``: the corrector of the predictor-corrector takes ``3n + 3`` channels;
* ``num_classes``: the classification head (``Logits``) when wanted.

Input: ``(B, C, T, H, W)`` in [0, 1]; it is mapped to [−1, 1] (I3D's input range) inside.
Any size works for the encoder alone; the U-Net pads to :data:`MULTIPLES`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from centrifuge.models.layers import MaxPool3dSame, Unit3D

# Branch widths of each Inception module: (b0, b1a, b1b, b2a, b2b, b3).
INCEPTION_CHANNELS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}

ENDPOINTS = (
    "Conv3d_1a_7x7",
    "MaxPool3d_2a_3x3",
    "Conv3d_2b_1x1",
    "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool3d_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool3d_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
)

# Endpoints a U-Net can stop at, with the skip features it uses (deepest first).
SKIPS = {
    "Mixed_3c": ("Conv3d_2c_3x3", "Conv3d_1a_7x7"),
    "Mixed_4f": ("Mixed_3c", "Conv3d_2c_3x3", "Conv3d_1a_7x7"),
    "Mixed_5c": ("Mixed_4f", "Mixed_3c", "Conv3d_2c_3x3", "Conv3d_1a_7x7"),
}

# Total (T, H, W) downsampling at each feature level used by the decoder.
STRIDES = {
    "Conv3d_1a_7x7": (2, 2, 2),
    "Conv3d_2c_3x3": (2, 4, 4),
    "Mixed_3c": (2, 8, 8),
    "Mixed_4f": (4, 16, 16),
    "Mixed_5c": (8, 32, 32),
}

# Input sizes the encoder-decoder reconstructs exactly: multiples of the deepest stride.
MULTIPLES = {name: STRIDES[name] for name in SKIPS}



def scaled(channels: int, width: float) -> int:
    """Channel count at a width multiplier (at least 4)."""
    return max(4, int(round(channels * width)))


class InceptionModule(nn.Module):
    """Four branches (1×1; 1×1→3×3; 1×1→3×3; maxpool→1×1) concatenated on channels."""

    def __init__(self, in_channels: int, widths: tuple[int, ...], *, bn_momentum: float):
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3 = widths
        kw = dict(bn_momentum=bn_momentum)
        self.branch0 = Unit3D(in_channels, b0, **kw)
        self.branch1a = Unit3D(in_channels, b1a, **kw)
        self.branch1b = Unit3D(b1a, b1b, (3, 3, 3), **kw)
        self.branch2a = Unit3D(in_channels, b2a, **kw)
        self.branch2b = Unit3D(b2a, b2b, (3, 3, 3), **kw)
        self.pool = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.branch3 = Unit3D(in_channels, b3, **kw)
        self.out_channels = b0 + b1b + b2b + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch0(x),
                self.branch1b(self.branch1a(x)),
                self.branch2b(self.branch2a(x)),
                self.branch3(self.pool(x)),
            ],
            dim=1,
        )


class InceptionI3d(nn.Module):
    """Inception-v1 I3D up to ``final_endpoint``, optionally with the Kinetics head.

    Args:
        final_endpoint: last layer built (any of :data:`ENDPOINTS`).
        width: channel multiplier (1 = the published network).
        in_channels: input channels (3 for RGB).
        num_classes: build the ``Logits`` head (needs ``final_endpoint="Mixed_5c"``).
        bn_momentum: PyTorch BatchNorm momentum (Sonnet's decay 0.999 is 0.001 here;
            0.1 suits short runs).

    Shape:
        ``(B, C, T, H, W)`` in [0, 1] → dict of endpoint features (and ``"Logits"``
        ``(B, num_classes)`` when the head exists).
    """

    def __init__(
        self,
        final_endpoint: str = "Mixed_5c",
        *,
        width: float = 1.0,
        in_channels: int = 3,
        num_classes: int | None = None,
        bn_momentum: float = 0.1,
    ):
        super().__init__()
        if final_endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {final_endpoint!r}; valid: {', '.join(ENDPOINTS)}")
        if num_classes and final_endpoint != "Mixed_5c":
            raise ValueError("the classification head needs final_endpoint='Mixed_5c'")
        self.final_endpoint = final_endpoint
        self.width = width
        self.in_channels = in_channels
        kw = dict(bn_momentum=bn_momentum)
        c = in_channels
        self.channels: dict[str, int] = {}
        self.layers = nn.ModuleDict()
        for name in ENDPOINTS[: ENDPOINTS.index(final_endpoint) + 1]:
            if name == "Conv3d_1a_7x7":
                layer = Unit3D(c, scaled(64, width), (7, 7, 7), (2, 2, 2), **kw)
                c = scaled(64, width)
            elif name == "Conv3d_2b_1x1":
                layer = Unit3D(c, scaled(64, width), **kw)
                c = scaled(64, width)
            elif name == "Conv3d_2c_3x3":
                layer = Unit3D(c, scaled(192, width), (3, 3, 3), **kw)
                c = scaled(192, width)
            elif name in ("MaxPool3d_2a_3x3", "MaxPool3d_3a_3x3"):
                layer = MaxPool3dSame((1, 3, 3), (1, 2, 2))
            elif name == "MaxPool3d_4a_3x3":
                layer = MaxPool3dSame((3, 3, 3), (2, 2, 2))
            elif name == "MaxPool3d_5a_2x2":
                layer = MaxPool3dSame((2, 2, 2), (2, 2, 2))
            else:
                widths = tuple(scaled(w, width) for w in INCEPTION_CHANNELS[name])
                layer = InceptionModule(c, widths, **kw)
                c = layer.out_channels
            self.layers[name] = layer
            self.channels[name] = c
        self.out_channels = c
        self.logits = nn.Conv3d(c, num_classes, 1, bias=True) if num_classes else None

    def forward(self, x: torch.Tensor, gate=None) -> dict[str, torch.Tensor]:
        """``gate(name, features) → features``, when given, sees every endpoint's output
        and may replace it before the next layer (C2's mask gating, ICCV 2019 eq. 1)."""
        x = x * 2.0 - 1.0
        features: dict[str, torch.Tensor] = {}
        for name, layer in self.layers.items():
            x = layer(x)
            if gate is not None:
                x = gate(name, x)
            features[name] = x
        if self.logits is not None:
            # DeepMind: AvgPool (2, 7, 7) VALID, 1×1×1 conv, then mean over time. Smaller
            # inputs pool over what they have, so any clip size gets class scores.
            k = tuple(min(a, b) for a, b in zip((2, 7, 7), x.shape[2:], strict=True))
            logits = self.logits(F.avg_pool3d(x, k, stride=1))
            features["Logits"] = logits.mean(dim=(2, 3, 4))
        return features
