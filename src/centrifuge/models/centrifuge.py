"""The Visual Centrifuge: an I3D-encoder 3D U-Net that unmixes a video into n layers.

* :class:`Centrifuge` — the *predictor* (CVPR 2019 §3.2): ``O = decoder(encoder(V))``.
* :class:`PredictorCorrector` — a second, non-weight-shared encoder-decoder that looks at
  the predictions and outputs a correction: ``O = Õ + Δ`` (§3.2, Appendix A, Fig. 9).

The corrector's input is the stacked predictions **and** the input video
(``3n + 3`` channels). The paper's text says the corrector "takes Õ as input"; we add V
because a correction is a judgement about the predictions *relative to the evidence*:
without V the corrector cannot tell a layer that lost content of the mixture from one
that is right, and V costs 3 input channels. Its head starts at zero so that training
begins from ``O = Õ``.

All models take ``(B, 3, T, H, W)`` in [0, 1] and return ``(B, n, 3, T, H, W)``.
Any T, H, W work: the input is padded (edge replication) up to the multiple of
:attr:`LayerModel.multiple` — ``(8, 32, 32)`` for ``Mixed_5c``, ``(4, 16, 16)`` for
``Mixed_4f``, ``(2, 8, 8)`` for ``Mixed_3c`` — and the output is cropped back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from centrifuge.errors import ConfigError
from centrifuge.models.base import (
    MAX_CHANNELS,
    MAX_WIDTH,
    LayerModel,
    check_n_outputs,
    config_from_mapping,
)
from centrifuge.models.i3d import SKIPS, InceptionI3d, scaled

# Decoder stage widths at width 1 for the Mixed_5c U-Net; shallower endpoints use the tail.
DECODER_CHANNELS = (256, 128, 64, 32, 16)
ENCODER_INITS = ("scratch", "kinetics400")


@dataclass
class CentrifugeConfig:
    """Constructor arguments of every Centrifuge-family model (stored in checkpoints).

    Attributes:
        n_outputs: number of output layers n (the paper uses 2, 4, 8, 12; 4 by default).
        endpoint: deepest I3D endpoint: ``Mixed_3c``, ``Mixed_4f`` or ``Mixed_5c``.
        width: channel multiplier of the encoder (and of the default decoder widths).
        decoder_channels: stage widths, deepest first; None derives them from ``width``.
        input_skip: concatenate the input video before the output head.
        residual: predict each layer as the input plus a correction, ``Oⁱ = V + Δⁱ``,
            with the head initialised to zero so training starts from the Identity
            baseline instead of random videos (not in the paper; see ``configs/cpu.yaml``).
        encoder_init: ``scratch`` (the paper) or ``kinetics400`` (DeepMind's weights,
            needs ``width=1``; read from the sample corpus).
        bn_momentum: BatchNorm momentum (PyTorch convention).
    """

    n_outputs: int = 4
    endpoint: str = "Mixed_5c"
    width: float = 1.0
    decoder_channels: tuple[int, ...] | None = None
    input_skip: bool = True
    residual: bool = False
    encoder_init: str = "scratch"
    bn_momentum: float = 0.1

    def __post_init__(self):
        if self.endpoint not in SKIPS:
            raise ConfigError(f"endpoint must be one of {', '.join(SKIPS)}, got {self.endpoint!r}")
        check_n_outputs(self.n_outputs)
        if (not isinstance(self.width, (int, float)) or isinstance(self.width, bool)
                or not 0 < self.width <= MAX_WIDTH):
            raise ConfigError(f"width must be a number in (0, {MAX_WIDTH}], got {self.width!r}")
        if self.encoder_init not in ENCODER_INITS:
            raise ConfigError(
                f"encoder_init must be one of {', '.join(ENCODER_INITS)}, got {self.encoder_init!r}"
            )
        if self.encoder_init == "kinetics400" and self.width != 1:
            raise ConfigError("encoder_init=kinetics400 needs width=1 (the published network)")
        stages = len(SKIPS[self.endpoint]) + 1
        if self.decoder_channels is None:
            self.decoder_channels = tuple(
                scaled(c, self.width) for c in DECODER_CHANNELS[-stages:]
            )
        try:
            self.decoder_channels = tuple(int(c) for c in self.decoder_channels)
        except (TypeError, ValueError):
            raise ConfigError(f"decoder_channels must be whole numbers, got "
                              f"{self.decoder_channels!r}") from None
        if not all(1 <= c <= MAX_CHANNELS for c in self.decoder_channels):
            raise ConfigError(f"decoder_channels must be in 1..{MAX_CHANNELS}, got "
                              f"{list(self.decoder_channels)}")
        if len(self.decoder_channels) != stages:
            raise ConfigError(
                f"endpoint {self.endpoint} needs {stages} decoder_channels, "
                f"got {list(self.decoder_channels)}"
            )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["decoder_channels"] = list(self.decoder_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CentrifugeConfig:
        return config_from_mapping(cls, d)




class EncoderDecoder(nn.Module):
    """One I3D encoder + U-Net decoder pair (a predictor, or the corrector)."""

    def __init__(self, config: CentrifugeConfig, in_channels: int = 3):
        from centrifuge.models.unet import UNetDecoder

        super().__init__()
        self.encoder = InceptionI3d(
            config.endpoint, width=config.width, in_channels=in_channels,
            bn_momentum=config.bn_momentum,
        )
        self.decoder = UNetDecoder(
            self.encoder.channels, config.endpoint, config.decoder_channels, config.n_outputs,
            input_channels=3 if config.input_skip else 0, bn_momentum=config.bn_momentum,
        )

    def forward(self, x: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x), video)


class Centrifuge(LayerModel):
    """The predictor: I3D encoder → U-Net decoder → n layers."""

    config_class = CentrifugeConfig

    def __init__(self, config: CentrifugeConfig):
        super().__init__(config)
        self.net = EncoderDecoder(config)
        if config.residual:
            nn.init.zeros_(self.net.decoder.head.weight)
            nn.init.zeros_(self.net.decoder.head.bias)
        if config.encoder_init == "kinetics400":
            from centrifuge.models.kinetics import load_kinetics400

            load_kinetics400(self.net.encoder)

    def _forward(self, video: torch.Tensor) -> torch.Tensor:
        out = self.net(video, video)
        # The sum in fp32: under bf16 autocast `out + video` would round the identity
        # part to 8 bits of mantissa and drop small corrections.
        return out.float() + video[:, None].float() if self.config.residual else out


class PredictorCorrector(LayerModel):
    """Predictor plus a corrector that sees ``[Õ, V]`` and adds ``Δ``: ``O = Õ + Δ``."""

    config_class = CentrifugeConfig

    def __init__(self, config: CentrifugeConfig):
        super().__init__(config)
        self.predictor = Centrifuge(config)
        self.corrector = EncoderDecoder(config, in_channels=3 * config.n_outputs + 3)
        nn.init.zeros_(self.corrector.decoder.head.weight)
        nn.init.zeros_(self.corrector.decoder.head.bias)
        if config.encoder_init == "kinetics400":
            self._init_corrector_from_kinetics()

    def _init_corrector_from_kinetics(self) -> None:
        """Kinetics weights for the corrector too; its first conv sees n+1 RGB videos, so
        the RGB kernel is shared among them (divided by n+1 to keep the response scale)."""
        from centrifuge.models.kinetics import kinetics400_state_dict

        state = kinetics400_state_dict()
        own = self.corrector.encoder.state_dict()
        groups = self.config.n_outputs + 1
        first = "layers.Conv3d_1a_7x7.conv.weight"
        init = {k: state[k] for k in own if k != first}
        init[first] = state[first].repeat(1, groups, 1, 1, 1) / groups
        self.corrector.encoder.load_state_dict(init, strict=True)

    def _forward(self, video: torch.Tensor) -> torch.Tensor:
        pred = self.predictor._forward(video)
        stacked = torch.cat([pred.flatten(1, 2), video], dim=1)
        return pred.float() + self.corrector(stacked, video).float()  # fp32 sum, as above
