"""Real blends whose two layers move differently: each clip seen through its own camera.

The corpus clips barely move on their own (docs/motion.md), so a blend of two of them
gives motion nothing to separate by. Most layered video people have holds layers that
move differently — a window filmed from a moving or hand-held camera, a dash-cam, a
street reflected in a shop window — so ``TwoMotionPairs`` gives each clip its own
synthetic camera over a larger crop of it: a pan, with a zoom, a small rotation or
hand-held jitter on top (each with probability ½); in one blend of three, one of the two
cameras is still (a layer fixed to the camera, as ``static-layer`` expects). The blend
is ``½(V¹ + V²)`` (``two-motion``), or with ``reflection=True`` V² seen through glass that
faintly reflects V¹ (``two-motion-reflection``; :func:`~centrifuge.data.mixing.reflection_blend`).

Each item also holds the true motions: ``motion1`` / ``motion2`` ``(T, 3, 3)`` float64,
the homography taking frame t's pixels to the reference frame's (frame ``(T − 1) // 2``),
where that layer's point is — what :mod:`centrifuge.methods.motion_layers` estimates, for
the motion-recovery benchmark and the oracle-motion ceiling.

Deterministic per index (``numpy.random.default_rng((seed, index))``); items are the
dicts of :class:`~centrifuge.data.pairs.BlendedPairs` plus the motions. Shapes: ``mix``,
``v1``, ``v2`` ``(3, T, S, S)`` in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Dataset

from centrifuge.data.clips import ClipSampler
from centrifuge.data.entries import VideoEntry
from centrifuge.data.mixing import glass_or_overlay
from centrifuge.io import frames_to_tensor
from centrifuge.ops.homography import sample, similarity

TWO_MOTION = "two-motion"
TWO_MOTION_REFLECTION = "two-motion-reflection"

# Per-frame camera motion at a 64-pixel crop (pans scale with the crop): pan speed (px),
# zoom (log-scale) and turn (radians) rates, hand-held jitter (px, a smoothed walk).
PAN = (0.3, 2.0)
ZOOM = 0.006
TURN = 0.004
JITTER = 0.6
STILL_SHARE = 1 / 3


def reference_frame(frames: int) -> int:
    """The frame every motion is measured against: the middle one."""
    return (frames - 1) // 2


def margin(frames: int, size: int) -> int:
    """Pixels of the wider crop each side of the frame that the fastest camera can use."""
    r = reference_frame(frames)
    reach = max(r, frames - 1 - r)
    pan = PAN[1] * size / 64 * reach
    turn_zoom = size / 2 * math.sqrt(2) * (math.exp(ZOOM * reach) - 1 + TURN * reach)
    return math.ceil(pan + turn_zoom + 3 * JITTER * size / 64) + 2


def draw_camera(rng: np.random.Generator, frames: int, size: int, side: int,
                still: bool = False) -> tuple[torch.Tensor, str]:
    """A camera path over a ``side``² frame seen at ``size``²: ``(T, 3, 3)`` homographies
    taking the output frame's pixels to the wide frame's, and a word for what it does."""
    offset = (side - size) / 2
    centre = ((size - 1) / 2, (size - 1) / 2)
    r = reference_frame(frames)
    if still:
        h = similarity(1.0, 0.0, (offset, offset), centre)
        return h.expand(frames, 3, 3).clone(), "still"
    speed = rng.uniform(*PAN) * size / 64
    angle = rng.uniform(0, 2 * math.pi)
    v = (speed * math.cos(angle), speed * math.sin(angle))
    zoom = rng.uniform(-ZOOM, ZOOM) if rng.random() < 0.5 else 0.0
    turn = rng.uniform(-TURN, TURN) if rng.random() < 0.5 else 0.0
    jitter = np.zeros((frames, 2))
    if rng.random() < 0.5:  # hand-held: a random walk, smoothed over three frames
        walk = np.cumsum(rng.normal(0, JITTER * size / 64 / 2, (frames + 2, 2)), axis=0)
        jitter = np.stack([np.convolve(walk[:, k], np.ones(3) / 3, "valid")
                           for k in range(2)], 1)
        bound = 3 * JITTER * size / 64
        jitter = np.clip(jitter - jitter[r], -bound, bound)
    path = [similarity(math.exp(zoom * (t - r)), turn * (t - r),
                       (offset + v[0] * (t - r) + jitter[t, 0],
                        offset + v[1] * (t - r) + jitter[t, 1]), centre)
            for t in range(frames)]
    kind = "pan" + ("+zoom" if zoom else "") + ("+turn" if turn else "") + \
        ("+jitter" if jitter.any() else "")
    return torch.stack(path), kind


def relative_motion(path: torch.Tensor) -> torch.Tensor:
    """``(T, 3, 3)``: each frame's pixels to the reference frame's, for a camera ``path``
    (frame → wide frame): ``G_r⁻¹ G_t``."""
    r = reference_frame(path.shape[0])
    return torch.linalg.inv(path[r]) @ path


class TwoMotionPairs(Dataset):
    """``samples`` blends of ``entries``' clips, each through its own camera (module doc)."""

    def __init__(self, entries: list[VideoEntry], samples: int, *, frames: int, size: int,
                 seed: int, reflection: bool = False, audio: bool = False):
        if frames < 2:
            raise ValueError(f"two-motion blends need at least 2 frames, got {frames}")
        self.samples, self.frames, self.size, self.seed = samples, frames, size, seed
        self.reflection = reflection
        self.audio = audio
        self.side = size + 2 * margin(frames, size)
        self.wide = ClipSampler(entries, frames=frames, crop=self.side, train=False,
                                cache=True)

    def __len__(self) -> int:
        return self.samples

    def _view(self, frames: np.ndarray, path: torch.Tensor) -> torch.Tensor:
        video = frames_to_tensor(frames).permute(1, 0, 2, 3)  # (T, 3, side, side)
        out = sample(video, path, (self.size, self.size)).clamp(0, 1)
        return out.permute(1, 0, 2, 3).contiguous()

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.samples:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        c1 = self.wide.sample(rng, audio=self.audio)
        c2 = self.wide.sample(rng, exclude=c1.entry.scene)
        still = int(rng.integers(2)) if rng.random() < STILL_SHARE else None
        p1, k1 = draw_camera(rng, self.frames, self.size, self.side, still=still == 0)
        p2, k2 = draw_camera(rng, self.frames, self.size, self.side, still=still == 1)
        v1, v2 = self._view(c1.frames, p1), self._view(c2.frames, p2)
        v1, v2, mix, alpha = glass_or_overlay(v1, v2, rng, self.reflection)
        item = {
            "mix": mix, "v1": v1, "v2": v2, "alpha": alpha,
            "motion1": relative_motion(p1), "motion2": relative_motion(p2),
            "meta": {"index": index, "blend": TWO_MOTION_REFLECTION if self.reflection
                     else TWO_MOTION, "source1": c1.entry.source, "start1": c1.start,
                     "source2": c2.entry.source, "start2": c2.start,
                     "camera1": k1, "camera2": k2, "fps": c1.fps},
        }
        if self.audio:
            item["sound"] = c1.audio
        return item
