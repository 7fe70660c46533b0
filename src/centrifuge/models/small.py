"""A small, fully convolutional layer separator sized for CPU training (not in the papers).

The paper's I3D U-Net needs ~2.4 M training blends; a 2-core CPU gives a few per second.
This network is the plain 3D U-Net of ``shared/notes/learning-curve-baseline.md`` with
three changes chosen for learning fast from few blends (each measured at equal CPU time,
``docs/training.md``):

* **GroupNorm** instead of BatchNorm, so the network trained at 8×64² runs unchanged at
  any clip size and batch (no statistics to recalibrate);
* **a routing head** (``head="mask"``): per pixel and colour channel a softmax over the n
  layers, ``Oⁱ = n·mⁱ·V + Δⁱ``. The mask *moves the input's own detail* to a layer
  instead of regressing it through 16 upsampled channels; Δ adds what the input does not
  hold (the hidden part of an occluded layer). With ``consistent=True`` the corrections
  are made zero-mean over the layers, ``Δⁱ − mean_j Δʲ``, so the outputs average back to
  the input by construction (mixture consistency) — right for α = 1/n transparent blends,
  but for occlusion it forbids any gain: where one layer is the input, the other can only
  move away from it symmetrically (measured: held-out synthetic occlusion 1.06× Identity
  after 4 k blends, docs/campaign.md). All head weights start at zero: training begins
  at the Identity baseline.
* pooling in space only (clips are few frames), trilinear upsampling, skip concatenation.

``head="residual"`` (``Oⁱ = V + Δⁱ``) is kept for the ablation. ``head="edges"`` routes in
the gradient domain instead (:func:`edge_layers`): per pixel, colour channel and
direction a softmax over the layers says which layer owns the blend's edge there, and
each layer is the Poisson integral of the edges it owns, plus Δⁱ. Told the true owners
(the layer with the stronger edge), this answer scores 0.60× Identity on the real val's
transparent blends, where being told both layers' mean colours gives 0.95×
(``benchmarks/ceilings.py``): an edge classifier, not a regression of two images.

``motion=k`` adds, as input channels of the first block and of the head, the clip
averaged along each of its ``k`` dominant motions (:mod:`centrifuge.ops.motion`):
these networks never learned to use motion by themselves (docs/motion.md). ``bank=r``
adds the clip averaged along every velocity of a fixed grid up to r pixels per frame (K
of them, :func:`~centrifuge.ops.motion.velocity_bank`): their grey versions, summed
to a few channels, join the input, and the head routes among them per pixel, ``Oⁱ =
n·mⁱ·(V + Σ_c qⁱ_c·(A_c − V)) + Δⁱ`` with qⁱ (zero at init) predicted per pixel —
a layer taken from the averages along its own local motion, where the global velocities
of ``motion`` are often wrong. ``prior=endpoint`` adds a frozen Kinetics-400 I3D trunk up
to that endpoint (``Conv3d_2c_3x3``, ``Mixed_3c`` or ``Mixed_4f``); each tapped endpoint's
features, through a zero-initialised 1×1×1 projection, are added to the U-Net's encoder
at the level of the same stride: natural-image features the small network cannot learn
from a few thousand blends (docs/prior.md).

Shape: ``(B, 3, T, H, W)`` in [0, 1] → ``(B, n, 3, T, H, W)``; H and W are padded to a
multiple of ``2**(levels-1)``, T to nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from centrifuge.errors import ConfigError
from centrifuge.models.base import (
    MAX_CHANNELS,
    LayerModel,
    check_n_outputs,
    config_from_mapping,
)
from centrifuge.ops.motion import bank_speeds, motion_channels, velocity_bank
from centrifuge.ops.poisson import gradients, integrate, mirror, mirror_edges

HEADS = ("mask", "residual", "edges")
BANK_FEATURES = 8
# I3D endpoints a prior may tap, with the U-Net level of the same spatial stride
PRIOR_TAPS = {"Conv3d_2c_3x3": 2, "Mixed_3c": 3, "Mixed_4f": 4}
PRIOR_INITS = ("kinetics400", "scratch")


@dataclass
class SmallConfig:
    """Constructor arguments of :class:`SmallSeparator` (stored in checkpoints).

    Attributes:
        n_outputs: output layers n.
        widths: channels per level, full resolution first.
        head: ``mask`` (routing + correction), ``edges`` (gradient routing + correction)
            or ``residual``.
        consistent: with ``mask`` or ``edges``, zero-mean corrections: outputs average
            to the input.
        groups: GroupNorm groups (each width must divide by it).
        motion: motion-compensated averages of this many dominant motions as extra
            input channels (0: none).
        bank: radius in pixels per frame of the velocity bank the head routes among
            (0: none).
        prior: a frozen I3D trunk up to this endpoint whose features join the encoder
            ("": none; one of :data:`PRIOR_TAPS`).
        encoder_init: ``kinetics400`` loads DeepMind's weights into the prior when the
            model is built; ``scratch`` when its weights come from a checkpoint.
    """

    n_outputs: int = 2
    widths: tuple[int, ...] = (16, 32, 64, 128)
    head: str = "mask"
    consistent: bool = False
    groups: int = 4
    motion: int = 0
    bank: int = 0
    prior: str = ""
    encoder_init: str = "kinetics400"

    def __post_init__(self):
        check_n_outputs(self.n_outputs)
        try:
            self.widths = tuple(int(c) for c in self.widths)
        except (TypeError, ValueError):
            raise ConfigError(f"widths must be whole numbers, got {self.widths!r}") from None
        if not 1 <= len(self.widths) <= 6:
            raise ConfigError(f"widths must list 1 to 6 levels, got {list(self.widths)}")
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if not isinstance(self.consistent, bool):
            raise ConfigError(f"consistent must be true or false, got {self.consistent!r}")
        if self.consistent and self.head == "residual":
            raise ConfigError("consistent applies to head=mask or edges only")
        if not isinstance(self.motion, int) or not 0 <= self.motion <= 4:
            raise ConfigError(f"motion must be a whole number of motions in 0..4, "
                              f"got {self.motion!r}")
        if not isinstance(self.bank, int) or not 0 <= self.bank <= 8:
            raise ConfigError(f"bank must be a radius in 0..8 pixels per frame, "
                              f"got {self.bank!r}")
        if self.bank and self.head != "mask":
            raise ConfigError("bank applies to head=mask only")
        if self.prior and self.prior not in PRIOR_TAPS:
            raise ConfigError(f"prior must be one of {', '.join(PRIOR_TAPS)} or empty, "
                              f"got {self.prior!r}")
        if self.encoder_init not in PRIOR_INITS:
            raise ConfigError(f"encoder_init must be one of {', '.join(PRIOR_INITS)}, "
                              f"got {self.encoder_init!r}")
        if not isinstance(self.groups, int) or self.groups < 1:
            raise ConfigError(f"groups must be a positive integer, got {self.groups!r}")
        bad = [c for c in self.widths if not 1 <= c <= MAX_CHANNELS or c % self.groups]
        if bad:
            raise ConfigError(f"widths must be in 1..{MAX_CHANNELS} and divisible by groups="
                              f"{self.groups}, got {list(self.widths)}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SmallConfig:
        return config_from_mapping(cls, d)


def _block(cin: int, cout: int, groups: int) -> nn.Sequential:
    """Two 3×3×3 conv → GroupNorm → ReLU."""
    layers = []
    for c in (cin, cout):
        layers += [nn.Conv3d(c, cout, 3, padding=1, bias=False), nn.GroupNorm(groups, cout),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SmallSeparator(LayerModel):
    """3D U-Net with GroupNorm and a routing head (module doc)."""

    def __init__(self, config: SmallConfig):
        super().__init__(config)
        w, g = config.widths, config.groups
        # the clip and its motion-compensated averages
        inputs = 3 + 3 * config.motion
        self.bank_size = len(bank_speeds(config.bank)) ** 2 if config.bank else 0
        first = inputs
        if self.bank_size:
            # the bank's grey, summed to a few channels per voxel (1×1×1: a 3×3×3 conv
            # over K ≈ 49 channels at full size would cost more than the whole body)
            self.bank_in = nn.Conv3d(self.bank_size, BANK_FEATURES, 1)
            first += BANK_FEATURES
        self.down = nn.ModuleList(
            [_block(first if i == 0 else w[i - 1], c, g) for i, c in enumerate(w)])
        self.up = nn.ModuleList(
            [_block(w[i + 1] + w[i], w[i], g) for i in reversed(range(len(w) - 1))])
        # mask logits + Δ; x and y edge-ownership logits + Δ; or Δ
        per_layer = {"mask": 6, "edges": 9, "residual": 3}[config.head]
        self.head = nn.Conv3d(w[0] + inputs, per_layer * config.n_outputs, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        if self.bank_size:
            # per pixel and layer, a weight for each bank average (1×1×1 from the last
            # features, zero at init: the head starts as the plain mask head)
            self.route = nn.Conv3d(w[0], self.bank_size * config.n_outputs, 1)
            nn.init.zeros_(self.route.weight)
            nn.init.zeros_(self.route.bias)
        self.prior, self.taps = None, {}
        if config.prior:
            self._build_prior(config)

    def _build_prior(self, config: SmallConfig) -> None:
        from centrifuge.models.i3d import InceptionI3d

        self.prior = InceptionI3d(config.prior)
        self.prior.requires_grad_(False)
        self.prior.eval()
        taps = list(PRIOR_TAPS)[: list(PRIOR_TAPS).index(config.prior) + 1]
        # deeper than the U-Net: added at its deepest level (resized)
        self.taps = {name: min(PRIOR_TAPS[name], len(config.widths) - 1) for name in taps}
        self.tap_proj = nn.ModuleDict()
        for name, level in self.taps.items():
            proj = nn.Conv3d(self.prior.channels[name], config.widths[level], 1)
            nn.init.zeros_(proj.weight)  # starts as the network without a prior
            nn.init.zeros_(proj.bias)
            self.tap_proj[name] = proj
        if config.encoder_init == "kinetics400":
            from centrifuge.models.kinetics import load_kinetics400

            load_kinetics400(self.prior)

    def _prior_features(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():  # frozen, and its input needs no gradient
            features = self.prior(video)
        return {name: features[name] for name in self.taps}

    def train(self, mode: bool = True):
        # the prior is frozen: its BatchNorm keeps Kinetics' statistics in training too
        super().train(mode)
        if self.prior is not None:
            self.prior.eval()
        return self

    @property
    def multiple(self) -> tuple[int, int, int]:
        s = 2 ** (len(self.config.widths) - 1)
        return (1, s, s)

    def _forward(self, video: torch.Tensor) -> torch.Tensor:
        return self._separate(video)["outputs"]

    def _forward_dict(self, video, audio, internals):
        out = self._separate(video)
        return out if internals else {"outputs": out["outputs"]}

    def _separate(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        """``outputs``, and with the edge head its ownership logits ``owners`` ``(B, n, 6,
        T, H, W)`` (x then y differences; for :func:`~centrifuge.losses.edge_owner_loss`)."""
        inputs = video
        if self.config.motion:
            extra = motion_channels(video, self.config.motion).to(video.dtype)
            inputs = torch.cat([video, extra], dim=1)
        x = inputs * 2 - 1
        bank = None
        if self.bank_size:
            bank = velocity_bank(video, self.config.bank)  # (B, K, 3, T, H, W)
            x = torch.cat([x, self.bank_in(bank.mean(2).to(x.dtype) * 2 - 1)], dim=1)
        added = self._prior_features(video) if self.prior is not None else {}
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool3d(x, (1, 2, 2))
            x = block(x)
            for name, f in added.items():
                if self.taps[name] == i:
                    f = F.interpolate(f, size=x.shape[2:], mode="trilinear",
                                      align_corners=False)
                    x = x + self.tap_proj[name](f.to(x.dtype))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[2:], mode="trilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        out = self.head(torch.cat([x, inputs.to(x.dtype)], dim=1)).float()
        b, _, t, h, w = out.shape
        n = self.config.n_outputs
        v = video.float()[:, None]
        if self.config.head == "residual":
            return {"outputs": v + out.view(b, n, 3, t, h, w)}
        if self.config.head == "edges":
            out = out.view(b, n, 9, t, h, w)
            delta = out[:, :, 6:]
            if self.config.consistent:
                delta = delta - delta.mean(dim=1, keepdim=True)
            owners = out[:, :, :6]
            return {"outputs": edge_layers(video.float(), owners.softmax(dim=1)) + delta,
                    "owners": owners}
        out = out.view(b, n, 6, t, h, w)
        mask = out[:, :, :3].softmax(dim=1)
        delta = out[:, :, 3:]
        if bank is not None:  # route: V plus weighted differences to the bank's averages
            q = self.route(x).float().view(b, n, self.bank_size, 1, t, h, w)
            # (1 − Σq)·V + Σ q·A, one velocity at a time: an einsum here is a batch of
            # 3×K×n matrix products per voxel, and indexing q[:, :, k] K times makes its
            # backward fill a whole zero gradient of q per k — unbind stacks them once
            routed = (1 - q.sum(2)) * v
            for qk, ak in zip(q.unbind(2), bank.unbind(1), strict=True):
                routed = routed + qk * ak[:, None]
            v = routed
        if self.config.consistent:
            # Σᵢ Oⁱ / n = V exactly: the masks sum to 1 and the corrections to 0.
            delta = delta - delta.mean(dim=1, keepdim=True)
        return {"outputs": n * mask * v + delta}


def edge_layers(video: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
    """Each layer rebuilt, frame by frame, from the blend's gradients it owns.

    ``owner`` ``(B, n, 6, T, H, W)``: per layer the share of each colour channel's x (first
    three) and y (last three) forward difference; the shares sum to 1 over the layers.
    Layer i's gradients are ``n·ownerⁱ·∇V`` (at α = 1/n a layer owning an edge outright
    holds all of it), integrated by least squares over the mirrored frame
    (:mod:`centrifuge.ops.poisson`) and given the blend's mean colour in that frame.
    Equal shares return V in every layer; the layers always sum to n·V.
    Shape → ``(B, n, 3, T, H, W)``.
    """
    n = owner.shape[1]
    h, w = video.shape[-2:]
    gx, gy = gradients(mirror(video))
    ox, oy = mirror_edges(owner[:, :, :3], owner[:, :, 3:])
    layers = integrate(n * ox * gx[:, None], n * oy * gy[:, None])
    return layers[..., :h, :w] + video.mean(dim=(3, 4), keepdim=True)[:, None]


SmallSeparator.config_class = SmallConfig
