""":class:`BlendedPairs`, the training and evaluation data: two clips, one blend.

Clips come from anything with ``sample(rng, *, exclude=None, audio=False,
audio_offset=0.0) -> Clip``: a :class:`~centrifuge.data.clips.ClipSampler` over real videos, a
:class:`~centrifuge.data.synthetic.SyntheticSampler`, or a :class:`MixedSource` drawing
from both (so blends pair real with synthetic too). The two clips of a pair never come
from the same scene (:attr:`VideoEntry.scene`).

Everything random about an item is drawn from ``numpy.random.default_rng([seed, index])``.

Tensors: clips ``(3, T, S, S)`` float in [0, 1]; α masks ``(1, T, S, S)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from centrifuge.data.clips import Clip
from centrifuge.data.mixing import (
    SENSOR_NOISE_SIGMA,
    blend,
    frozen,
    match_colour,
    occlusion_alpha,
    pure_colour,
    reflection_blend,
    transparent_alpha,
)
from centrifuge.data.superpixels import DEFAULT_SEGMENTS, random_supervoxel_mask
from centrifuge.errors import ConfigError
from centrifuge.io import frames_to_tensor
from centrifuge.io.audio import control_spectrogram

BLENDS = ("transparent", "occlusion", "reflection", "mixed")


@dataclass
class BlendConfig:
    """How pairs are composed.

    Attributes:
        blend: ``transparent`` (α constant), ``occlusion`` (α = 1 on one SLIC
            supervoxel of V¹, 0 elsewhere), ``reflection`` (V² reflected in glass in
            front of V¹, :func:`~centrifuge.data.mixing.reflection_blend`) or ``mixed``
            (each item occlusion with probability ``occlusion``, else transparent: one
            model for reflections and occluders).
        alpha: transparent α, or a ``[low, high]`` range to draw it from uniformly.
        reflection: with ``mixed`` or ``transparent``, the share of transparent items
            made as reflection blends instead.
        occlusion: with ``mixed``, the share of occlusion items.
        superpixels: SLIC segments per clip for occlusion blending.
        frozen: how many of the two videos are frozen (one frame repeated): 0, 1 or 2.
        colour: make V² a pure-colour video of this name (psychophysics), or None.
    """

    blend: str = "transparent"
    alpha: float | list[float] = 0.5
    reflection: float = 0.0
    occlusion: float = 0.5
    superpixels: int = DEFAULT_SEGMENTS
    frozen: int = 0
    colour: str | None = None

    def __post_init__(self):
        if self.blend not in BLENDS:
            raise ConfigError(f"blend must be one of {', '.join(BLENDS)}, got {self.blend!r}")
        if self.frozen not in (0, 1, 2):
            raise ConfigError(f"frozen must be 0, 1 or 2, got {self.frozen}")
        a = self.alpha if isinstance(self.alpha, (list, tuple)) else [self.alpha, self.alpha]
        if len(a) != 2 or not 0 <= a[0] <= a[1] <= 1:
            raise ConfigError(f"alpha must be in [0, 1] or a range [low, high], got {self.alpha}")
        if not 0 <= self.reflection <= 1:
            raise ConfigError(f"reflection is a share in [0, 1], got {self.reflection}")
        if not 0 <= self.occlusion <= 1:
            raise ConfigError(f"occlusion is a share in [0, 1], got {self.occlusion}")

    def draw_kind(self, rng: np.random.Generator) -> str:
        kind = self.blend
        if kind == "mixed":
            kind = "occlusion" if rng.random() < self.occlusion else "transparent"
        if kind == "transparent" and self.reflection and rng.random() < self.reflection:
            kind = "reflection"
        return kind

    def draw_alpha(self, rng: np.random.Generator) -> float:
        lo, hi = self.alpha if isinstance(self.alpha, (list, tuple)) else (self.alpha,) * 2
        return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


class MixedSource:
    """Draws each clip from ``synthetic`` with probability ``ratio``, else from ``real``."""

    def __init__(self, real, synthetic, ratio: float):
        if not 0 <= ratio <= 1:
            raise ConfigError(f"data.synthetic_ratio must be in [0, 1], got {ratio}")
        self.real, self.synthetic, self.ratio = real, synthetic, ratio

    @property
    def span(self) -> int:
        return self.real.span

    def sample(self, rng: np.random.Generator, *, exclude: str | None = None,
               audio: bool = False, audio_offset: float = 0.0) -> Clip:
        source = self.synthetic if rng.random() < self.ratio else self.real
        return source.sample(rng, exclude=exclude, audio=audio, audio_offset=audio_offset)


def check_audio(audio: bool, audio_v2: bool) -> None:
    """``audio_v2`` (V² with sound too) only means something for blends with sound."""
    if audio_v2 and not audio:
        raise ConfigError("data.audio_v2 needs data.audio=true (it draws V² among videos "
                          "with sound, for a C3 model)")


def check_match_colour(match_colour) -> None:
    if not isinstance(match_colour, bool):
        raise ConfigError(f"data.match_colour must be true or false, got {match_colour!r}")


def check_sensor_noise(sensor_noise: float) -> None:
    """``sensor_noise`` is the probability that a blend gets sensor noise."""
    if not 0 <= sensor_noise <= 1:
        raise ConfigError(f"data.sensor_noise is a probability in [0, 1], got {sensor_noise}")


class BlendedPairs(Dataset):
    """Blends of two clips from different scenes, deterministic per index.

    Each item is a dict:

    * ``mix`` ``(3, T, S, S)``: ``α ⊙ V¹ + (1 − α) ⊙ V²`` (or the reflection blend);
    * ``v1``, ``v2`` ``(3, T, S, S)``: the two layers as they enter the blend;
      ``alpha`` ``(1, T, S, S)``;
    * ``audio`` ``(257, 4·T)``: log-spectrogram of V¹'s sound, stretched to 4 frames per
      video frame (:func:`~centrifuge.io.audio.control_spectrogram`; only with
      ``audio=True``);
    * ``meta``: index, blend kind, source ids and start frames of both clips.

    Args:
        sampler: where clips come from (see the module docstring).
        length: number of items.
        seed: with the index, seeds everything random about an item.
        blend: composition settings.
        audio: also return V¹'s log-spectrogram (V¹ is then drawn among videos with sound).
        audio_offset: shift V¹'s sound by this many seconds (Appendix C of ICCV 2019).
        audio_v2: draw V² among videos with sound too. Without it, a C3 can learn which
            *kind* of video carries sound (talking heads, sprites) and point at it without
            listening; with both layers sounding, only the sound tells them apart.
        sensor_noise: probability that the blend gets Gaussian sensor noise after
            blending (σ drawn in :data:`~centrifuge.data.mixing.SENSOR_NOISE_SIGMA`), as
            a camera adds it to what it sees; the layers (targets) stay clean. Per-layer
            noise (``synthetic.noise``) is a part of each target that no model can
            attribute. Drawn last, so 0 leaves every item of a stream as it was.
        match_colour: give both layers the same per-channel mean and spread
            (:func:`~centrifuge.data.mixing.match_colour`) before blending; for
            training (it draws nothing, so the stream is otherwise unchanged).
    """

    def __init__(
        self,
        sampler,
        length: int,
        *,
        seed: int = 0,
        blend: BlendConfig | None = None,
        audio: bool = False,
        audio_offset: float = 0.0,
        audio_v2: bool = False,
        sensor_noise: float = 0.0,
        match_colour: bool = False,
    ):
        check_audio(audio, audio_v2)
        check_sensor_noise(sensor_noise)
        check_match_colour(match_colour)
        self.match_colour = match_colour
        self.sensor_noise = float(sensor_noise)
        self.audio_v2 = bool(audio_v2)
        self.sampler = sampler
        self.audio_offset = float(audio_offset)
        self.length = int(length)
        self.seed = int(seed)
        self.blend = blend or BlendConfig()
        self.audio = audio

    def __len__(self) -> int:
        return self.length

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(index)])

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        cfg = self.blend
        c1 = self.sampler.sample(rng, audio=self.audio, audio_offset=self.audio_offset)
        f1 = c1.frames
        t, s = f1.shape[0], f1.shape[1]
        if cfg.colour is not None:
            f2, src2, start2 = None, f"colour:{cfg.colour}", 0
            v2 = pure_colour(cfg.colour, t, s, s)
        else:
            c2 = self.sampler.sample(rng, exclude=c1.entry.scene, audio=self.audio_v2)
            f2, src2, start2 = c2.frames, c2.entry.source, c2.start
        if cfg.frozen >= 1:
            f1 = frozen(f1, rng)
        if cfg.frozen == 2 and f2 is not None:
            f2 = frozen(f2, rng)
        v1 = frames_to_tensor(f1)
        if f2 is not None:
            v2 = frames_to_tensor(f2)
        if self.match_colour and f2 is not None:
            v1, v2 = match_colour(torch.stack([v1, v2])).unbind(0)
        kind = cfg.draw_kind(rng)
        if kind == "reflection":
            r = reflection_blend(v1, v2, rng)
            v1, v2, mix = r.transmission, r.reflection, r.mix
            alpha = transparent_alpha((t, s, s), r.alpha)
        else:
            if kind == "occlusion":
                alpha = occlusion_alpha(random_supervoxel_mask(f1, rng,
                                                               n_segments=cfg.superpixels))
            else:
                alpha = transparent_alpha((t, s, s), cfg.draw_alpha(rng))
            mix = blend(v1, v2, alpha)
        item = {
            "mix": mix,
            "v1": v1,
            "v2": v2,
            "alpha": alpha,
            "meta": {"index": int(index), "blend": kind, "source1": c1.entry.source,
                     "start1": c1.start, "source2": src2, "start2": start2},
        }
        if self.audio:
            item["audio"] = control_spectrogram(c1.audio, t)
        if self.sensor_noise and rng.random() < self.sensor_noise:
            sigma = float(rng.uniform(*SENSOR_NOISE_SIGMA))
            noise = torch.from_numpy(rng.standard_normal(tuple(mix.shape), dtype=np.float32))
            item["mix"] = (mix + sigma * noise).clamp(0, 1)
        return item


def stack_targets(batch: dict) -> torch.Tensor:
    """``(B, 2, 3, T, H, W)`` targets [V¹, V²] of a collated batch."""
    return torch.stack([batch["v1"], batch["v2"]], dim=1)
