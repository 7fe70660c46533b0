"""The contract every learned network of the project keeps: :class:`LayerModel`.

A network takes a video batch ``(B, 3, T, H, W)`` in [0, 1] (C3 also its log-spectrogram
``(B, 257, S)``) and returns ``(B, n, 3, T, H, W)`` layers. Any T, H, W work: the input is
padded (edge replication) up to the network's :attr:`LayerModel.multiple` and the output
cropped back. Training-free methods are not networks and do not derive from this class
(:mod:`centrifuge.methods`).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from centrifuge.errors import ConfigError, ShapeError
from centrifuge.models.i3d import MULTIPLES

# Bounds far beyond any sensible network: a typo or a damaged checkpoint fails with a
# line instead of allocating tens of GB.
MAX_OUTPUTS, MAX_WIDTH, MAX_CHANNELS = 64, 4.0, 4096


def check_n_outputs(n) -> None:
    """One line for an ``n_outputs`` that no model of the family takes."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_OUTPUTS:
        raise ConfigError(f"n_outputs must be an integer from 1 to {MAX_OUTPUTS}, got {n!r}")


def config_from_mapping(cls, d: dict):
    """A model config dataclass ``cls`` from a mapping (a checkpoint's or the user's
    arguments); unknown names are one line listing the valid ones. Names a config has
    renamed (its ``RENAMED``, old → new) are read under the new name, so checkpoints
    written before a rename still load."""
    if not isinstance(d, dict):
        raise ConfigError(f"model arguments must be a mapping, got {type(d).__name__}")
    for old, new in getattr(cls, "RENAMED", {}).items():
        if old in d:
            if new in d:
                raise ConfigError(f"model arguments {old} and {new} are the same setting "
                                  f"({old} is its old name); give only {new}")
            d = {**{k: v for k, v in d.items() if k != old}, new: d[old]}
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ConfigError(f"unknown model arguments {sorted(unknown)}; valid: {sorted(names)}")
    return cls(**d)


class LayerModel(nn.Module):
    """Base of the model family: config, size handling, and the layer tensor contract.

    Subclasses implement :meth:`_forward` (a tensor of layers) or :meth:`_forward_dict`
    (the layers under ``"outputs"`` plus any internals) on inputs whose T, H, W are
    multiples of :attr:`multiple`. Models with ``takes_audio`` also get the clip's
    log-spectrogram ``(B, 257, S)``.
    """

    model_name: str = "?"  # set by the registry
    config_class: type = None  # each network's config dataclass (CentrifugeConfig, …)
    takes_audio: bool = False

    def __init__(self, config):
        super().__init__()
        self.config = config

    @property
    def n_outputs(self) -> int:
        return self.config.n_outputs

    @property
    def multiple(self) -> tuple[int, int, int]:
        """T, H, W the network reconstructs exactly; other sizes are padded to these."""
        return MULTIPLES[self.config.endpoint]

    def forward(self, video: torch.Tensor, audio: torch.Tensor | None = None) -> torch.Tensor:
        """Separate ``video`` ``(B, 3, T, H, W)`` in [0, 1] into ``(B, n, 3, T, H, W)``."""
        return self._run(video, audio, internals=False)["outputs"]

    def forward_dict(self, video: torch.Tensor,
                     audio: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The layers (``"outputs"``) and the model's internals, e.g. C2's ``masks``
        ``(B, m, T, H, W)``, ``layers`` ``(B, m, 3, T, H, W)`` and ``beta`` ``(B, n, m)``,
        or C3's control ``scores`` ``(B, n)``; video-shaped entries are cropped back to
        the input's T, H, W."""
        return self._run(video, audio, internals=True)

    def _run(self, video, audio, internals: bool) -> dict[str, torch.Tensor]:
        if video.ndim != 5 or video.shape[1] != 3:
            raise ShapeError(
                f"expected a video batch (B, 3, T, H, W), got {tuple(video.shape)}"
            )
        if audio is not None and not self.takes_audio:
            raise ShapeError(f"model {self.model_name} takes no audio (it is not a C3 model)")
        if audio is None and self.takes_audio:
            raise ShapeError(f"model {self.model_name} needs the clip's audio "
                             "(a log-spectrogram (B, 257, S))")
        size = video.shape[2:]
        padded = [math.ceil(s / m) * m for s, m in zip(size, self.multiple, strict=True)]
        if list(size) != padded:
            pads = []
            for s, p in zip(reversed(size), reversed(padded), strict=True):
                pads += [0, p - s]
            video = F.pad(video, pads, mode="replicate")
        out = self._forward_dict(video, audio, internals)
        t, h, w = size
        return {k: v[..., :t, :h, :w] if v.ndim >= 5 else v for k, v in out.items()}

    def _forward_dict(self, video: torch.Tensor, audio: torch.Tensor | None,
                      internals: bool) -> dict[str, torch.Tensor]:
        return {"outputs": self._forward(video)}

    def _forward(self, video: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
