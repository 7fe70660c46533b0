"""Training-time augmentation of real clips: one settings object, one place it is applied.

The paper (§4) crops and flips; the rest stretches a small corpus and is not in the
paper. :class:`AugmentConfig` is both the ``data.augment`` config section and what
:class:`~centrifuge.data.clips.ClipSampler` takes, so the fields are written once.

Frames are ``(T, H, W, 3)`` uint8 numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from centrifuge.errors import ConfigError


@dataclass
class AugmentConfig:
    """Random changes to each training clip (validation clips get none).

    Attributes:
        flip: random horizontal flip (the paper's).
        zoom: ``[low, high]``: the crop window's side is ``crop · U(low, high)`` (capped by
            the frame) and is resized to ``crop`` — scale augmentation. None: off.
        color_jitter: strength c of brightness, contrast and saturation factors drawn from
            ``U(1 − c, 1 + c)`` per clip. 0: off.
        channel_shuffle: permute the RGB channels of each clip at random.
        time_reverse: probability of playing a clip backwards.
        rotate: rotate each clip by a random multiple of 90° (crops are square).
        speed: ``[low, high]`` integer range of the frame-step multiplier: a clip plays
            1× to high× as fast (falls back to slower where a shot is too short). None: 1×.
    """

    flip: bool = True
    zoom: list | None = None
    color_jitter: float = 0.0
    channel_shuffle: bool = False
    time_reverse: float = 0.0
    rotate: bool = False
    speed: list | None = None

    def __post_init__(self):
        if self.zoom is not None:
            z = list(self.zoom)
            if len(z) != 2 or not 0 < z[0] <= z[1]:
                raise ConfigError(f"augment.zoom must be [low, high] with 0 < low ≤ high, got {z}")
        if not 0 <= self.color_jitter < 1:
            raise ConfigError(f"augment.color_jitter must be in [0, 1), got {self.color_jitter}")
        if not 0 <= self.time_reverse <= 1:
            raise ConfigError(f"augment.time_reverse is a probability, got {self.time_reverse}")
        if self.speed is not None:
            s = list(self.speed)
            if len(s) != 2 or not all(isinstance(v, int) for v in s) or not 1 <= s[0] <= s[1]:
                raise ConfigError(f"augment.speed must be integers [low, high] ≥ 1, got {s}")

    def draw_speed(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.speed[0], self.speed[1] + 1)) if self.speed else 1

    def crop_side(self, crop: int, rng: np.random.Generator) -> int:
        """Side of the window cut from the frame before resizing to ``crop``."""
        return int(round(crop * rng.uniform(*self.zoom))) if self.zoom else crop

    def apply(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Flip, reverse, rotate, shuffle channels and jitter colours of a cropped clip."""
        if self.flip and rng.random() < 0.5:
            frames = frames[:, :, ::-1]
        if self.time_reverse and rng.random() < self.time_reverse:
            frames = frames[::-1]
        if self.rotate:
            frames = np.rot90(frames, k=int(rng.integers(4)), axes=(1, 2))
        if self.channel_shuffle:
            frames = frames[..., rng.permutation(3)]
        c = self.color_jitter
        if c:
            x = frames.astype(np.float32)
            bright, contrast, sat = rng.uniform(1 - c, 1 + c, size=3)
            grey = x.mean(axis=-1, keepdims=True)
            x = grey + sat * (x - grey)
            x = x.mean() + contrast * (x - x.mean())
            frames = np.clip(x * bright, 0, 255).round().astype(np.uint8)
        return frames
