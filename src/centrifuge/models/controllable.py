"""The Controllable Compositional Centrifuge, C3 (ICCV 2019 §3.2–3.3, Fig. 3–4).

C2 plus a control signal, the log-spectrogram of the sound that goes with one of the
blended videos (:func:`~centrifuge.io.audio.clip_log_spectrogram`):

* **Audio network**: the spectrogram as a one-channel image through a VGG-like 2D CNN
  trained from scratch (blocks of two 3×3 conv-BN-ReLU and a 2×2 max-pool).
* **Fusion** (§3.2): average over frequency, resample in time to the encoder output's
  T, broadcast over space, concatenate on channels before the decoder
  (:func:`fuse_audio`). Works for any T and any spectrogram length.
* **Control**, both strategies of Fig. 4 (``control``):

  - ``deterministic`` (n = 2): the audio's video must come out in slot 1
    (:func:`~centrifuge.losses.deterministic_loss`); ``scores`` are ``[0, 1]``;
  - ``internal``: outputs in any order (PIT loss) plus a *control regressor* that
    predicts ``s_i ≈ ℓ(V¹, sg(O_i))`` (eq. 6); the attended output is ``argmin s``.

The stop-gradient of eq. 6 is total here: the regressor reads the outputs and the input
detached, and has **its own** audio network, so its loss reaches no weight that the
outputs depend on (a shared audio network would let it reshape the outputs through the
fusion, which is what the paper's stop-gradient forbids). It embeds each output (and
the input) with a small 3D CNN over its frames, its change from the input and its frame
differences at ≤ 32² pixels, compares each with the audio features frame by frame, and
pools over time.

Shape: ``forward(video (B, 3, T, H, W), audio (B, 257, S))``; ``forward_dict`` adds
``scores (B, n)`` to C2's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from centrifuge.errors import ConfigError, ShapeError
from centrifuge.io.audio import N_BINS
from centrifuge.models.base import MAX_CHANNELS
from centrifuge.models.compositional import Compositional, CompositionalConfig
from centrifuge.models.layers import GuardedConv3d

CONTROLS = ("internal", "deterministic")
# Side the regressor sees outputs at: enough for motion and colour, cheap for n videos.
REGRESSOR_SIDE = 32
# Scale of the output-minus-input channels the regressor sees (a few % of the range).
DELTA_GAIN = 4.0


@dataclass
class ControllableConfig(CompositionalConfig):
    """:class:`CompositionalConfig` plus C3's knobs.

    Attributes:
        control: ``internal`` (PIT + control regressor) or ``deterministic`` (slot 1).
        audio_channels: widths of the audio network's blocks.
        regressor_channels: width of the control regressor.
    """

    control: str = "internal"
    audio_channels: tuple[int, ...] = (16, 32, 64, 128)
    regressor_channels: int = 64

    def __post_init__(self):
        super().__post_init__()
        if self.control not in CONTROLS:
            raise ConfigError(f"control must be one of {', '.join(CONTROLS)}, "
                              f"got {self.control!r}")
        if self.control == "deterministic" and self.n_outputs != 2:
            raise ConfigError("deterministic control needs n_outputs=2 (ICCV 2019 eq. 5); "
                              "use control=internal for more outputs")
        try:
            self.audio_channels = tuple(int(c) for c in self.audio_channels)
        except (TypeError, ValueError):
            raise ConfigError(f"audio_channels must be whole numbers, got "
                              f"{self.audio_channels!r}") from None
        widths = (*self.audio_channels, self.regressor_channels)
        if not self.audio_channels or not all(
                isinstance(c, int) and 1 <= c <= MAX_CHANNELS for c in widths):
            raise ConfigError(f"audio_channels and regressor_channels must be in "
                              f"1..{MAX_CHANNELS}, got {list(widths)}")

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["audio_channels"] = list(self.audio_channels)
        return d


class AudioNet(nn.Module):
    """VGG-like CNN over a log-spectrogram: ``(B, 257, S)`` → ``(B, C, S')`` (frequency
    averaged out, time downsampled by up to 2 per block)."""

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        self.norm = nn.BatchNorm2d(1)  # log-magnitudes are far from zero mean, unit scale
        blocks, c = [], 1
        for out in channels:
            blocks.append(nn.Sequential(
                nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(True),
                nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                nn.ReLU(True)))
            c = out
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = c

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        if spec.ndim != 3 or spec.shape[1] != N_BINS or spec.shape[2] < 1:
            raise ShapeError(f"expected log-spectrograms (B, {N_BINS}, S), got "
                             f"{tuple(spec.shape)}")
        x = self.norm(spec[:, None].float())
        for block in self.blocks:
            x = block(x)
            kernel = (min(2, x.shape[2]), min(2, x.shape[3]))  # short clips keep ≥ 1 step
            x = F.max_pool2d(x, kernel)
        return x.mean(dim=2)


def fuse_audio(audio: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """§3.2's fusion: audio features ``(B, C, S')`` resampled (linearly) to T' and
    broadcast to ``(B, C, T', H', W')`` = ``(B, C, *size)``."""
    t, h, w = size
    timed = F.interpolate(audio.float(), size=t, mode="linear", align_corners=False)
    return timed[..., None, None].expand(-1, -1, t, h, w)


class ControlRegressor(nn.Module):
    """Predicts ``s_i ≈ ℓ(V¹, O_i)`` from the (detached) outputs, the input and the
    audio: ``(B, n, 3, T, H, W)``, ``(B, 3, T, H, W)``, ``(B, 257, S)`` → ``(B, n)``."""

    def __init__(self, audio_channels: tuple[int, ...], width: int):
        super().__init__()
        self.audio = AudioNet(audio_channels)
        self.audio_proj = nn.Conv1d(self.audio.out_channels, width, 1)

        def conv(cin, cout):
            return nn.Sequential(GuardedConv3d(cin, cout, 3, (1, 2, 2), 1), nn.ReLU(True))

        # frames and frame differences: motion is what a soundtrack most often follows
        self.video = nn.Sequential(conv(9, 16), conv(16, 32), conv(32, width))
        self.compare = nn.Sequential(nn.Conv1d(4 * width, width, 3, padding=1), nn.ReLU(True))
        self.head = nn.Linear(width, 1)

    def embed(self, video: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """``(N, 3, T, H, W)`` videos and what they are compared with (the input) →
        per-frame features ``(N, width, T)``."""
        t, h, w = video.shape[2:]
        side = (min(h, REGRESSOR_SIDE), min(w, REGRESSOR_SIDE))
        small = F.adaptive_avg_pool3d(video.float(), (t, *side))
        ref = F.adaptive_avg_pool3d(reference.float(), (t, *side))
        diff = torch.cat([torch.zeros_like(small[:, :, :1]), small.diff(dim=2)], 2)
        # what an output changed in the input: outputs start as near-copies of the input,
        # and their differences from it are what tells them apart
        change = DELTA_GAIN * (small - ref)
        return self.video(torch.cat([small, change, diff], 1)).mean(dim=(3, 4))

    def forward(self, outputs: torch.Tensor, video: torch.Tensor,
                spec: torch.Tensor) -> torch.Tensor:
        b, n, _, t = outputs.shape[:4]
        refs = video[:, None].expand(-1, n, -1, -1, -1, -1).flatten(0, 1)
        emb = self.embed(outputs.flatten(0, 1), refs).view(b, n, -1, t)
        context = self.embed(video, video)[:, None].expand(-1, n, -1, -1)
        a = self.audio_proj(self.audio(spec))
        a = F.interpolate(a, size=t, mode="linear", align_corners=False)[:, None]
        a = a.expand(-1, n, -1, -1)
        x = torch.cat([emb, a, emb * a, context], 2).flatten(0, 1)
        return self.head(self.compare(x).mean(-1)).view(b, n)


class Controllable(Compositional):
    """C3: C2 whose decoder also sees the audio, with deterministic or internal control."""

    config_class = ControllableConfig
    takes_audio = True

    def __init__(self, config: ControllableConfig):
        audio = AudioNet(config.audio_channels)
        super().__init__(config, extra_channels=audio.out_channels)
        self.audio = audio
        self.regressor = (ControlRegressor(config.audio_channels, config.regressor_channels)
                          if config.control == "internal" else None)

    def _forward_dict(self, video, audio, internals):
        features, masks = self.encode(video)
        bottleneck = features[self.config.endpoint]
        extra = fuse_audio(self.audio(audio), bottleneck.shape[2:]).to(bottleneck.dtype)
        out = self.compose(video, features, extra)
        if self.regressor is None:
            b, n = out["outputs"].shape[:2]
            out["scores"] = torch.arange(n, device=video.device, dtype=torch.float32).expand(b, n)
        else:
            # eq. (6)'s sg(·): nothing the regressor learns reaches the outputs
            out["scores"] = self.regressor(out["outputs"].detach(), video.detach(), audio)
        if internals:
            out["masks"] = self.full_masks(masks, video)
        return out
