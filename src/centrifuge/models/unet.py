"""The U-Net decoder of the Visual Centrifuge (paper Appendix A, Fig. 10).

From the encoder's deepest features back to the input resolution with one stage per
encoder level: a transposed convolution (stride 2 in the dimensions the encoder halved
there, 1 elsewhere), concatenation with the encoder's features at that level (the skip
connection), and a 3×3×3 convolution. The last stage returns to full resolution, where
the input video itself is concatenated (``input_skip``; the figure's exact choice is not
recoverable from the text — this gives the output head the fine detail every layer is
made of) before the head convolution emits ``3·n`` channels.

Shape:
    features of :class:`~centrifuge.models.i3d.InceptionI3d` at an input of
    ``(B, 3, T, H, W)`` with T, H, W multiples of ``MULTIPLES[endpoint]``
    → ``(B, n, 3, T, H, W)``.

``extra_channels`` lets a control signal (the audio features of C3, ICCV §3.2) be
concatenated to the deepest features before decoding.
"""

from __future__ import annotations

import torch
from torch import nn

from centrifuge.models.i3d import SKIPS, STRIDES
from centrifuge.models.layers import ConvBNReLU, GuardedConv3d, UpConv


class UNetDecoder(nn.Module):
    """Decoder stages from ``endpoint`` up to the input resolution.

    Args:
        encoder_channels: channels of each encoder endpoint (``InceptionI3d.channels``).
        endpoint: the encoder's deepest endpoint (a key of :data:`SKIPS`).
        channels: output channels of each stage, deepest first
            (``len(SKIPS[endpoint]) + 1`` entries; the last is the full-resolution one).
        n_outputs: layers produced (``3·n`` output channels).
        input_channels: channels of the input video concatenated at full resolution
            (0 disables the input skip).
        extra_channels: channels of a control tensor concatenated at the bottleneck.
    """

    def __init__(
        self,
        encoder_channels: dict[str, int],
        endpoint: str,
        channels: tuple[int, ...],
        n_outputs: int,
        *,
        input_channels: int = 3,
        extra_channels: int = 0,
        bn_momentum: float = 0.1,
    ):
        super().__init__()
        skips = SKIPS[endpoint]
        if len(channels) != len(skips) + 1:
            raise ValueError(
                f"endpoint {endpoint} needs {len(skips) + 1} decoder channels, got {channels}"
            )
        self.endpoint, self.skips, self.n_outputs = endpoint, skips, n_outputs
        self.input_channels = input_channels
        kw = dict(bn_momentum=bn_momentum)
        c = encoder_channels[endpoint] + extra_channels
        level = endpoint
        self.up = nn.ModuleList()
        self.fuse = nn.ModuleList()
        for skip, out in zip(skips, channels[:-1], strict=True):
            stride = tuple(a // b for a, b in zip(STRIDES[level], STRIDES[skip], strict=True))
            self.up.append(UpConv(c, out, stride, **kw))
            self.fuse.append(ConvBNReLU(out + encoder_channels[skip], out, **kw))
            c, level = out, skip
        self.up.append(UpConv(c, channels[-1], STRIDES[level], **kw))
        self.head = GuardedConv3d(channels[-1] + input_channels, 3 * n_outputs, 3, padding=1)

    def forward(
        self,
        features: dict[str, torch.Tensor],
        video: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = features[self.endpoint]
        if extra is not None:
            x = torch.cat([x, extra], dim=1)
        for up, fuse, skip in zip(self.up, self.fuse, self.skips, strict=False):
            x = fuse(torch.cat([up(x), features[skip]], dim=1))
        x = self.up[-1](x)
        if self.input_channels:
            x = torch.cat([x, video.to(x.dtype)], dim=1)
        out = self.head(x)
        b, _, t, h, w = out.shape
        return out.view(b, self.n_outputs, 3, t, h, w)
