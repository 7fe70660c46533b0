"""The Compositional Centrifuge, C2 (ICCV 2019 §3.1, Fig. 2).

Two changes to the Centrifuge's encoder-decoder:

* **Mask gating (eq. 1).** A mask generator inside the encoder produces m
  spatio-temporal masks ``M`` (softmax over m, so they sum to 1 at every voxel). At each
  gated I3D level the feature channels are split into m contiguous, mutually exclusive
  groups (as equal as the channel count allows) and group c is multiplied by mask c,
  average-pooled to that level's size. The gated features flow on through the encoder
  and into the decoder's skip connections.
* **Composition module (eq. 2).** The decoder (the *layer generator*) emits m layers
  ``L`` instead of n outputs, and n×m coefficients ``β``; the outputs are
  ``O_i = Σ_j β_ij L_j``.

Choices the paper leaves open (Fig. 11 is not in the text), argued in ``docs/design.md``:

* masks come from the encoder's ``Conv3d_2c_3x3`` features (a 3×3×3 convolution to m
  logits): the last level before any gated one, at ¼ of the spatial resolution;
* gated levels are the ones the decoder reads — its skip levels after the mask level
  and the bottleneck (``Mixed_3c`` and ``Mixed_4f`` for a ``Mixed_4f`` encoder);
  ``gated_levels`` picks others, ``[]`` is "C2 without masking" (Table 1);
* gated features are multiplied by m, so uniform masks leave them unchanged: the mask
  head starts at zero, so a C2 starts with the encoder of the Centrifuge it extends
  (and can be initialised from one, see :func:`~centrifuge.train.module.initialise_from`);
* ``β`` is one n×m matrix per clip, from the pooled bottleneck features, with a softmax
  over the layers j: each output is a convex combination of layers. With residual
  layers ``L_j = V + Δ_j`` that makes ``O_i = V + Σ_j β_ij Δ_j``, the Identity baseline
  at initialisation. The β head starts near a one-to-one map (output i ← layer i,
  β_ii ≈ 0.95 for m = 2), not exactly on it: a saturated softmax would not learn.

Shape: as every :class:`~centrifuge.models.centrifuge.LayerModel`; ``forward_dict``
adds ``masks (B, m, T, H, W)``, ``layers (B, m, 3, T, H, W)`` and ``beta (B, n, m)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from centrifuge.errors import ConfigError
from centrifuge.models.base import MAX_OUTPUTS, LayerModel
from centrifuge.models.centrifuge import CentrifugeConfig
from centrifuge.models.i3d import ENDPOINTS, SKIPS, InceptionI3d
from centrifuge.models.layers import GuardedConv3d
from centrifuge.models.unet import UNetDecoder

MASK_LEVEL = "Conv3d_2c_3x3"
# Logit of β_ii at initialisation (others 0): output i starts as mostly layer i.
BETA_DIAGONAL = 3.0


def default_gated_levels(endpoint: str) -> tuple[str, ...]:
    """The levels the decoder reads that come after the mask level, shallowest first."""
    after = ENDPOINTS.index(MASK_LEVEL)
    levels = [lv for lv in (*SKIPS[endpoint], endpoint) if ENDPOINTS.index(lv) > after]
    return tuple(sorted(levels, key=ENDPOINTS.index))


@dataclass
class CompositionalConfig(CentrifugeConfig):
    """:class:`CentrifugeConfig` plus C2's knobs.

    Attributes:
        n_masks: m, the number of masks, each making one internal layer that the
            composition module mixes into the n outputs (default: n_outputs). It was
            ``n_layers`` until 2026-12-07 — a fifth name beside ``--layers``, ``n_kept``,
            a method's ``n_layers`` and ``n_outputs``, and the only one that does not
            mean output layers; checkpoints with the old name still load (``RENAMED``).
        gated_levels: I3D endpoints whose features are gated (default: see
            :func:`default_gated_levels`; ``[]``: no masking).
    """

    n_masks: int | None = None
    gated_levels: tuple[str, ...] | None = None
    RENAMED: ClassVar[dict[str, str]] = {"n_layers": "n_masks"}

    def __post_init__(self):
        super().__post_init__()
        if self.n_masks is None:
            self.n_masks = self.n_outputs
        if (not isinstance(self.n_masks, int) or isinstance(self.n_masks, bool)
                or not 1 <= self.n_masks <= MAX_OUTPUTS):
            raise ConfigError(f"n_masks must be an integer from 1 to {MAX_OUTPUTS}, "
                              f"got {self.n_masks!r}")
        if self.gated_levels is None:
            self.gated_levels = default_gated_levels(self.endpoint)
        if isinstance(self.gated_levels, str) or not isinstance(self.gated_levels,
                                                                 (list, tuple)):
            raise ConfigError(f"gated_levels must be a list of I3D endpoints, "
                              f"got {self.gated_levels!r}")
        self.gated_levels = tuple(self.gated_levels)
        lo, hi = ENDPOINTS.index(MASK_LEVEL), ENDPOINTS.index(self.endpoint)
        valid = ENDPOINTS[lo + 1 : hi + 1]
        bad = [lv for lv in self.gated_levels if lv not in valid]
        if bad:
            raise ConfigError(f"gated_levels {bad} cannot be gated with endpoint "
                              f"{self.endpoint}; choose among {', '.join(valid)}")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["gated_levels"] = list(self.gated_levels)
        return d


def channel_groups(channels: int, m: int) -> torch.Tensor:
    """Group index of each of ``channels`` channels: m contiguous groups, sizes differing
    by at most one (the paper assumes channels divisible by m; I3D's often are not)."""
    return torch.arange(channels) * m // channels


def gate(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Eq. (1): channel group c of ``features`` ``(B, C, t, h, w)`` times mask c of
    ``masks`` ``(B, m, T', H', W')`` (pooled to ``(t, h, w)``), times m."""
    m = masks.shape[1]
    size = features.shape[2:]
    if masks.shape[2:] != size:
        masks = F.adaptive_avg_pool3d(masks, size)
    groups = channel_groups(features.shape[1], m).to(features.device)
    return features * (m * masks.to(features.dtype)).index_select(1, groups)


class LayerNet(nn.Module):
    """Encoder with mask gating + layer-generator decoder (named like the Centrifuge's
    ``EncoderDecoder`` so that its weights carry over)."""

    def __init__(self, config: CompositionalConfig, extra_channels: int = 0):
        super().__init__()
        self.encoder = InceptionI3d(config.endpoint, width=config.width,
                                    bn_momentum=config.bn_momentum)
        self.decoder = UNetDecoder(
            self.encoder.channels, config.endpoint, config.decoder_channels, config.n_masks,
            input_channels=3 if config.input_skip else 0, extra_channels=extra_channels,
            bn_momentum=config.bn_momentum,
        )


class Compositional(LayerModel):
    """C2: gated I3D encoder → m layers and β → ``O_i = Σ_j β_ij L_j``."""

    config_class = CompositionalConfig

    def __init__(self, config: CompositionalConfig, extra_channels: int = 0):
        super().__init__(config)
        m, n = config.n_masks, config.n_outputs
        self.net = LayerNet(config, extra_channels)
        channels = self.net.encoder.channels
        self.mask_head = None
        if config.gated_levels:
            self.mask_head = GuardedConv3d(channels[MASK_LEVEL], m, 3, padding=1)
            nn.init.zeros_(self.mask_head.weight)
            nn.init.zeros_(self.mask_head.bias)
        self.beta_head = nn.Linear(channels[config.endpoint], n * m)
        nn.init.zeros_(self.beta_head.weight)
        with torch.no_grad():
            self.beta_head.bias.view(n, m).copy_(
                BETA_DIAGONAL * (torch.arange(m)[None] == torch.arange(n)[:, None] % m))
        if config.residual:
            nn.init.zeros_(self.net.decoder.head.weight)
            nn.init.zeros_(self.net.decoder.head.bias)
        if config.encoder_init == "kinetics400":
            from centrifuge.models.kinetics import load_kinetics400

            load_kinetics400(self.net.encoder)

    def encode(self, video: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """Gated encoder features and the masks at the mask level (softmax over m)."""
        gated = set(self.config.gated_levels)
        state: dict[str, torch.Tensor] = {}

        def hook(name: str, x: torch.Tensor) -> torch.Tensor:
            if name == MASK_LEVEL and self.mask_head is not None:
                state["masks"] = torch.softmax(self.mask_head(x).float(), dim=1)
            if name in gated:
                return gate(x, state["masks"])
            return x

        features = self.net.encoder(video, gate=hook)
        return features, state.get("masks")

    def compose(self, video: torch.Tensor, features: dict[str, torch.Tensor],
                extra: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Layers, β and outputs from (gated) encoder features."""
        c = self.config
        raw = self.net.decoder(features, video, extra).float()  # (B, m, 3, T, H, W)
        pooled = features[c.endpoint].float().mean(dim=(2, 3, 4))
        beta = torch.softmax(self.beta_head(pooled).view(-1, c.n_outputs, c.n_masks), -1)
        # In fp32 (see Centrifuge._forward): small corrections must survive the sum.
        mixed = torch.einsum("bij,bj...->bi...", beta, raw)
        if c.residual:
            layers = raw + video[:, None].float()
            outputs = mixed + video[:, None].float()  # Σ_j β_ij = 1
        else:
            layers, outputs = raw, mixed
        return {"outputs": outputs, "layers": layers, "beta": beta}

    def _forward_dict(self, video, audio, internals):
        features, masks = self.encode(video)
        out = self.compose(video, features)
        if internals:
            out["masks"] = self.full_masks(masks, video)
        return out

    def full_masks(self, masks: torch.Tensor | None, video: torch.Tensor) -> torch.Tensor:
        """Masks at the input's resolution (uniform 1/m without masking), for display."""
        b, _, t, h, w = video.shape
        m = self.config.n_masks
        if masks is None:
            return torch.full((b, m, t, h, w), 1 / m, device=video.device)
        return F.interpolate(masks, size=(t, h, w), mode="trilinear", align_corners=False)
