"""Real scenes behind synthetic occluders that move with their own camera (``moving-occluder``).

A fence, a railing, drops or dirt on a window: an opaque layer with a matte, in front of
the scene, moving differently from it when the camera moves (the near fence sweeps across
the far street; dirt on the lens stays with the camera while the view pans). Each blend
is a corpus clip seen through one synthetic camera (:func:`~centrifuge.data.two_motion.
draw_camera`, as the two-motion blends) and an occluder drawn on a wide canvas seen
through another — in one blend of three one of the two is still:

* ``grid`` — a fence: two families of bars, slightly turned, a flat colour with shading;
* ``drops`` — round drops or specks, bright and a little translucent;
* ``blobs`` — a few large smooth shapes cut out of another clip's frame (a foreground
  object);
* ``supervoxels`` — a foreground *clip* cut by its spatio-temporal SLIC supervoxels, as
  the ICCV 2019 paper's occlusion blends (§3.3, :mod:`centrifuge.data.superpixels`):
  supervoxels drawn until they cover a fifth to a third of it, the clip's own frames inside.
  Its content and its outline change over time as the clip does, so it is not the rigid
  layer the other three (and :mod:`centrifuge.ops.matte`) assume — the hard case.

``mix = α O + (1 − α) S``. Items hold ``mix``; ``v1`` the occluder's colour O and ``v2``
the scene S ``(3, T, S, S)``; ``alpha`` α ``(1, T, S, S)``; ``scene_seen`` ``(1, T, S, S)``
bool — where the scene point at that pixel shows in some frame of the clip (the rest no
method can know); ``motion1`` / ``motion2`` (occluder, scene) ``(T, 3, 3)`` as
:class:`~centrifuge.data.two_motion.TwoMotionPairs`; ``meta``. Deterministic per index.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from centrifuge.data.clips import ClipSampler
from centrifuge.data.entries import VideoEntry
from centrifuge.data.superpixels import supervoxels
from centrifuge.data.two_motion import STILL_SHARE, draw_camera, margin, relative_motion
from centrifuge.io import frames_to_tensor
from centrifuge.ops.homography import sample

MOVING_OCCLUDER = "moving-occluder"
KINDS = ("grid", "drops", "blobs", "supervoxels")
# the share of the canvas the supervoxels kind covers, at least (about the blobs' fifth)
COVER = 0.2
MOST = 0.35  # ... and at most


def _grid(rng: np.random.Generator, side: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    scale = size / 64
    period = rng.uniform(11, 18) * scale
    width = rng.uniform(1.5, 3.0) * scale
    turn = rng.uniform(-0.3, 0.3)
    ys, xs = torch.meshgrid(torch.arange(side, dtype=torch.float32),
                            torch.arange(side, dtype=torch.float32), indexing="ij")
    c, s = math.cos(turn), math.sin(turn)
    u, v = c * xs + s * ys, -s * xs + c * ys
    alpha = torch.zeros(side, side)
    for coord in (u, v):
        d = (coord % period - period / 2).abs() - (period / 2 - width / 2)  # > 0 on a bar
        alpha = torch.maximum(alpha, (d + 0.5).clamp(0, 1))  # a pixel-wide soft edge
    colour = torch.tensor(rng.uniform(0.05, 0.9, 3), dtype=torch.float32)
    shade = 0.85 + 0.15 * torch.sin(u / period * math.pi * 2 + rng.uniform(0, 6))
    return colour[:, None, None] * shade, alpha


def _drops(rng: np.random.Generator, side: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    scale = size / 64
    n = int(rng.integers(25, 45) * (side / size) ** 2)  # the same cover at any size
    ys, xs = torch.meshgrid(torch.arange(side, dtype=torch.float32),
                            torch.arange(side, dtype=torch.float32), indexing="ij")
    alpha = torch.zeros(side, side)
    for _ in range(n):
        x, y = rng.uniform(0, side, 2)
        r = rng.uniform(1.5, 4.0) * scale
        d = torch.sqrt((xs - x) ** 2 + (ys - y) ** 2)
        alpha = torch.maximum(alpha, (r - d + 0.5).clamp(0, 1) * rng.uniform(0.8, 1.0))
    tint = torch.tensor(rng.uniform(0.7, 1.0, 3), dtype=torch.float32)
    return tint[:, None, None].expand(3, side, side).clone(), alpha


def _blobs(rng: np.random.Generator, side: int, size: int) -> torch.Tensor:
    """α ``(side, side)`` of a few large smooth shapes covering about a fifth of it."""
    noise = torch.from_numpy(rng.normal(size=(1, 1, side, side))).float()
    blur = max(3, int(size / 8)) | 1
    for _ in range(3):
        noise = F.avg_pool2d(noise, blur, 1, blur // 2, count_include_pad=False)
    noise = noise[0, 0]
    level = torch.quantile(noise, 0.78)  # about a fifth of the canvas
    return ((noise - level) / (noise.std() * 0.05 + 1e-6)).clamp(0, 1)


def _supervoxels(rng: np.random.Generator, clip: np.ndarray,
                 size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """O ``(T, 3, side, side)`` and α ``(T, side, side)`` of a foreground clip ``(T, side,
    side, 3)`` uint8: its frames inside supervoxels drawn at random until they cover
    :data:`COVER` (to :data:`MOST`) of its central ``size``² — what the camera sees of the
    canvas — their edges a pixel soft."""
    # at full resolution: the training blends' 2–4 px steps would show as a staircase here
    labels = torch.from_numpy(supervoxels(clip, time_step=1, work_size=clip.shape[1]))
    m = (clip.shape[1] - size) // 2
    seen = (slice(None), slice(m, m + size), slice(m, m + size))
    inside = torch.zeros(labels.shape, dtype=torch.bool)
    for label in rng.permutation(int(labels.max()) + 1):
        more = inside | (labels == int(label))
        if more[seen].float().mean() <= MOST:  # one huge supervoxel would hide the scene
            inside = more
        if inside[seen].float().mean() >= COVER:
            break
    if not inside[seen].any():  # a clip SLIC cannot cut (flat, tiny): the blobs' shapes
        inside = _blobs(rng, clip.shape[1], size)[None].expand(len(clip), -1, -1) > 0.5
    alpha = F.avg_pool2d(inside.float()[:, None], 3, 1, 1, count_include_pad=False)[:, 0]
    return frames_to_tensor(clip).permute(1, 0, 2, 3), alpha


class MovingOccluderPairs(Dataset):
    """``samples`` scenes of ``entries`` behind moving synthetic occluders (module doc)."""

    def __init__(self, entries: list[VideoEntry], samples: int, *, frames: int, size: int,
                 seed: int):
        if frames < 2:
            raise ValueError(f"moving-occluder blends need at least 2 frames, got {frames}")
        self.samples, self.frames, self.size, self.seed = samples, frames, size, seed
        self.side = size + 2 * margin(frames, size)
        self.wide = ClipSampler(entries, frames=frames, crop=self.side, train=False,
                                cache=True)

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.samples:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        clip = self.wide.sample(rng)
        kind = KINDS[index % len(KINDS)]
        if kind == "grid":
            colour, alpha = _grid(rng, self.side, self.size)
        elif kind == "drops":
            colour, alpha = _drops(rng, self.side, self.size)
        else:  # cut out of another clip: a still frame of it (blobs) or the clip itself
            other = self.wide.sample(rng, exclude=clip.entry.scene)
            if kind == "blobs":
                colour = frames_to_tensor(other.frames[:1])[:, 0]
                alpha = _blobs(rng, self.side, self.size)
            else:
                colour, alpha = _supervoxels(rng, other.frames, self.size)
        still = int(rng.integers(2)) if rng.random() < STILL_SHARE else None
        po, ko = draw_camera(rng, self.frames, self.size, self.side, still=still == 0)
        ps, ks = draw_camera(rng, self.frames, self.size, self.side, still=still == 1)
        t, s = self.frames, (self.size, self.size)
        video = frames_to_tensor(clip.frames).permute(1, 0, 2, 3)  # (T, 3, side, side)
        scene = sample(video, ps, s).clamp(0, 1).permute(1, 0, 2, 3).contiguous()
        if colour.dim() == 4:  # a clip: its own frame and outline at each time
            layer = torch.cat([colour, alpha[:, None]], 1)
        else:
            layer = torch.cat([colour, alpha[None]])[None].expand(t, -1, -1, -1)
        occ = sample(layer, po, s).clamp(0, 1).permute(1, 0, 2, 3).contiguous()
        occluder, a = occ[:3], occ[3:]
        mix = a * occluder + (1 - a) * scene
        item = {"mix": mix, "v1": occluder, "v2": scene, "alpha": a,
                "scene_seen": self._seen(a, ps),
                "motion1": relative_motion(po), "motion2": relative_motion(ps),
                "meta": {"index": index, "blend": MOVING_OCCLUDER, "occluder": kind,
                         "source2": clip.entry.source, "start2": clip.start,
                         "camera1": ko, "camera2": ks}}
        return item

    def _seen(self, alpha: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
        """Where the scene point at each pixel shows (α ≤ ½) in some frame: each frame's
        clear pixels carried onto the wide frame along the scene's camera, or-ed, and seen
        back through it."""
        clear = (alpha <= 0.5).float().permute(1, 0, 2, 3)  # (T, 1, S, S)
        wide = sample(clear, torch.linalg.inv(path), (self.side, self.side), padding="zeros")
        ever = (wide > 0.5).any(0, keepdim=True).float().expand(self.frames, -1, -1, -1)
        back = sample(ever, path, (self.size, self.size), padding="zeros")
        return (back > 0.5).permute(1, 0, 2, 3)
