"""Real blends with one layer fixed to the camera and the other panning past it.

The corpus val clips barely move (median 0.1 px/frame, docs/motion.md), so their
blends test single-frame separation only. A windscreen reflection filmed from a mounted
camera is the opposite case: the reflected dashboard stays where it is in the frame
while the road streams through it. ``CameraFixedPairs`` makes that case from real clips:
V¹ is a corpus clip as it is (its own small motions kept), V² another clip seen through
a window that pans across a larger version of it at a constant velocity — real pictures,
a synthetic camera. The blend is ``½(V¹ + V²)``; with ``reflection=True`` it is instead
V² seen through glass that reflects V¹ (:func:`~centrifuge.data.mixing.reflection_blend`:
linear light, blur, ghosting, attenuation — a faint reflection, as most real ones are),
and the targets are the two layers as they enter that sum.

Deterministic per index (the generator is seeded with ``(seed, index)``); items are the
dicts of :class:`~centrifuge.data.pairs.BlendedPairs` (``mix``, ``v1``, ``v2``,
``alpha``, ``meta``), so ``centrifuge evaluate --blend camera-fixed`` scores any model on
them beside the trivial baselines.
"""

from __future__ import annotations

import math

import numpy as np
from torch.utils.data import Dataset

from centrifuge.data.clips import ClipSampler
from centrifuge.data.entries import VideoEntry
from centrifuge.data.mixing import glass_or_overlay
from centrifuge.io import frames_to_tensor

CAMERA_FIXED_REFLECTION = "camera-fixed-reflection"

# pan speed range in pixels per frame at a 64-pixel crop (scaled with the crop): up to
# about 1.2 frame widths over 32 frames
SPEED = (0.5, 2.5)


def travel(frames: int, size: int) -> int:
    """Pixels the fastest pan covers over ``frames`` frames at crop ``size``."""
    return math.ceil(SPEED[1] * size / 64 * (frames - 1))


def pan(frames: np.ndarray, size: int | tuple[int, int], start: tuple[float, float],
        velocity: tuple[float, float]) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` seen through a window (``size``² or ``(height, width)``) at
    ``start + t·velocity`` (y, x in pixels, rounded to whole pixels: no resampling
    blur). The window must stay inside the frames."""
    wh, ww = (size, size) if isinstance(size, int) else size
    t_count, h, w = frames.shape[:3]
    out = []
    for t in range(t_count):
        y = int(round(start[0] + velocity[0] * t))
        x = int(round(start[1] + velocity[1] * t))
        if not (0 <= y <= h - wh and 0 <= x <= w - ww):
            raise ValueError(f"pan leaves the {w}×{h} frame at t={t} (y={y}, x={x})")
        out.append(frames[t, y : y + wh, x : x + ww])
    return np.stack(out)


def draw_pan(rng: np.random.Generator, frames: int, size: int,
             side: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """A start and a velocity (y, x) whose ``size``² window stays inside a ``side``²
    frame for ``frames`` frames: speed uniform in :data:`SPEED` (scaled), any direction."""
    speed = rng.uniform(*SPEED) * size / 64
    angle = rng.uniform(0, 2 * math.pi)
    v = (speed * math.sin(angle), speed * math.cos(angle))
    start = tuple(rng.uniform(max(0.0, -d * (frames - 1)),
                              side - size - max(0.0, d * (frames - 1))) for d in v)
    return start, v


class CameraFixedPairs(Dataset):
    """``samples`` blends of ``entries``' clips: one fixed, one panning (module doc)."""

    def __init__(self, entries: list[VideoEntry], samples: int, *, frames: int, size: int,
                 seed: int, reflection: bool = False):
        self.samples, self.frames, self.size, self.seed = samples, frames, size, seed
        self.reflection = reflection
        self.side = size + travel(frames, size) + 2
        self.fixed = ClipSampler(entries, frames=frames, crop=size, train=False, cache=True)
        self.wide = ClipSampler(entries, frames=frames, crop=self.side, train=False,
                                cache=True)

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.samples:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        c1 = self.fixed.sample(rng)
        c2 = self.wide.sample(rng, exclude=c1.entry.scene)
        start, velocity = draw_pan(rng, self.frames, self.size, c2.frames.shape[1])
        v1 = frames_to_tensor(c1.frames)
        v2 = frames_to_tensor(pan(c2.frames, self.size, start, velocity))
        v1, v2, mix, alpha = glass_or_overlay(v1, v2, rng, self.reflection)
        return {
            "mix": mix, "v1": v1, "v2": v2, "alpha": alpha,
            "meta": {"index": index, "blend": CAMERA_FIXED_REFLECTION if self.reflection
                     else "camera-fixed", "source1": c1.entry.source,
                     "start1": c1.start, "source2": c2.entry.source, "start2": c2.start,
                     "pan_px_per_frame": round(math.hypot(*velocity), 3)},
        }
