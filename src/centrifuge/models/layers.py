"""Small 3D building blocks shared by the encoder and decoder.

Tensors are ``(B, C, T, H, W)``.

Two details matter for correctness:

* **TF "SAME" padding.** The imported DeepMind I3D weights were trained with TensorFlow's
  SAME padding, which pads ``total = max((ceil(n/s) - 1)·s + k - n, 0)`` with the extra
  pixel *after* (right/bottom/later). A strided conv on an even size is therefore
  asymmetric, and max-pooling pads with −∞. :func:`same_padding` reproduces it.
* **The bf16 Conv3d weight-gradient bug** on the CPU build of torch (see
  ``shared/notes/cpu-performance.md``): under CPU bf16 autocast the weight gradient of a
  Conv3d whose input has temporal size exactly 2 and whose kernel spans more than one
  frame is garbage. :class:`GuardedConv3d` runs exactly those convolutions in fp32 (named
  so that it does not read as — or shadow — ``nn.Conv3d``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]):
    """``F.pad`` list (last dim first) reproducing TF SAME for a (T, H, W) input."""
    pads = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride), strict=True):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def _cpu_bf16_autocast(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu")


class GuardedConv3d(nn.Conv3d):
    """``nn.Conv3d`` that sidesteps the CPU bf16 T=2 weight-gradient bug (module doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.shape[2] == 2
            and self.kernel_size[0] > 1
            and torch.is_grad_enabled()
            and _cpu_bf16_autocast(x)
        ):
            with torch.autocast("cpu", enabled=False):
                return super().forward(x.float())
        return super().forward(x)


class Unit3D(nn.Module):
    """Conv (TF SAME padding, no bias) → BatchNorm (eps 1e-3, as Sonnet) → ReLU.

    Sonnet's BatchNorm in I3D has no scale; ours keeps one (initialised to 1, and set
    to 1 by the weight import) so the module is the standard ``BatchNorm3d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        bn_momentum: float = 0.1,
    ):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        # Stride 1 with an odd kernel is symmetric: let the conv pad (faster, no copy).
        self.symmetric = all(s == 1 and k % 2 == 1 for k, s in zip(kernel, stride, strict=True))
        pad = tuple(k // 2 for k in kernel) if self.symmetric else 0
        self.conv = GuardedConv3d(in_channels, out_channels, kernel, stride, padding=pad,
                                  bias=False)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.symmetric:
            x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        return F.relu(self.bn(self.conv(x)), inplace=True)


class MaxPool3dSame(nn.Module):
    """Max-pooling with TF SAME padding (padded cells are −∞, i.e. ignored)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = same_padding(x.shape[2:], self.kernel, self.stride)
        if any(pads):
            x = F.pad(x, pads, value=float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)


class ConvBNReLU(nn.Module):
    """Conv3d with symmetric padding → BatchNorm → ReLU (decoder block)."""

    def __init__(self, in_channels, out_channels, kernel=(3, 3, 3), *, bn_momentum=0.1):
        super().__init__()
        pad = tuple(k // 2 for k in kernel)
        self.conv = GuardedConv3d(in_channels, out_channels, kernel, padding=pad, bias=False)
        self.bn = nn.BatchNorm3d(out_channels, momentum=bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class UpConv(nn.Module):
    """Transposed Conv3d with kernel = stride (1 or 2 per dimension) → BatchNorm → ReLU.

    Kernel equal to stride (the 3D U-Net's 2×2×2 up-convolution) multiplies each size
    exactly and keeps the parameter count of the deep, wide stages small; the 3×3×3 conv
    that follows in the decoder smooths the block pattern it would otherwise leave.
    """

    def __init__(self, in_channels, out_channels, stride=(2, 2, 2), *, bn_momentum=0.1):
        super().__init__()
        if any(s not in (1, 2) for s in stride):
            raise ValueError(f"UpConv strides must be 1 or 2, got {stride}")
        stride = tuple(stride)
        self.conv = nn.ConvTranspose3d(in_channels, out_channels, stride, stride, bias=False)
        self.bn = nn.BatchNorm3d(out_channels, momentum=bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def channels_last_3d(model: nn.Module) -> nn.Module:
    """``channels_last_3d`` weights for the 3-D convolutions of ``model`` (the fast
    layout for bf16 on CPUs); C3's 1-D and 2-D audio layers keep theirs."""
    for module in model.modules():
        if isinstance(module, (nn.Conv3d, nn.ConvTranspose3d)):
            module.to(memory_format=torch.channels_last_3d)
    return model
