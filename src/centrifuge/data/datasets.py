"""Clip datasets over three sources, and :class:`BlendedPairs`, the training data.

Sources (:func:`make_entries`):

* ``corpus`` — the sample corpus manifest (``train``/``val`` split, shot boundaries);
* ``folder`` — every video under a folder, recursively;
* ``kinetics`` — a CSV ``path,label[,start,end]`` (paths relative to the CSV; times in
  seconds) or a folder of class-named sub-folders, as Kinetics-400/600 are distributed.

Clip sampling (:class:`ClipSampler`): T frames at a frame stride, inside one shot (the
corpus knows its cuts; other sources count as one shot per video) and inside the video.
Augmentation as in the paper (§4): the shorter side is resized to 1.15× the crop, then a
random spatio-temporal crop and a random horizontal flip; validation uses centred crops.

A corrupt or too-short video is skipped with a logged warning and counted
(:attr:`ClipSampler.skipped`); it is never retried, and training never crashes on it.

Everything random is drawn from a ``numpy.random.Generator`` seeded by
``(seed, index)``, so a seeded validation set is identical on every machine.

Tensors: clips ``(3, T, S, S)`` float in [0, 1]; α masks ``(1, T, S, S)``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from centrifuge.data.mixing import (
    blend,
    frozen,
    occlusion_alpha,
    pure_colour,
    transparent_alpha,
)
from centrifuge.data.superpixels import DEFAULT_SEGMENTS, random_supervoxel_mask
from centrifuge.errors import AudioError, CentrifugeError, ConfigError
from centrifuge.io import clip_log_spectrogram, frames_to_tensor, probe, read_audio, read_video

log = logging.getLogger("centrifuge.data")

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v",
                    ".flv", ".wmv", ".ogv", ".3gp"}
SOURCES = ("corpus", "folder", "kinetics")


@dataclass
class VideoEntry:
    """One video a clip can come from.

    ``segments`` are the usable ``[start, end)`` frame ranges (shots); None until the
    video is first probed (folder and Kinetics sources are not probed up front, so that
    pointing at 400 000 videos starts at once).
    """

    path: str
    source: str
    segments: list[tuple[int, int]] | None = None
    fps: float | None = None
    label: str | None = None
    start_s: float = 0.0
    end_s: float | None = None
    has_audio: bool | None = None


# -- sources ---------------------------------------------------------------------------


def corpus_entries(root: str | os.PathLike | None = None, split: str = "train") -> list[VideoEntry]:
    from centrifuge.data.corpus import Corpus

    corpus = Corpus.load(root)
    entries = [
        VideoEntry(
            path=str(corpus.path(c)),
            source=c["id"],
            segments=[tuple(s) for s in c["shots"]],
            fps=c["fps"],
            has_audio=bool(c["audio"]) and c["audio"]["kind"] != "silent",
        )
        for c in corpus.split(split)
    ]
    if not entries:
        raise ConfigError(f"the corpus at {corpus.root} has no {split!r} clips")
    return entries


def folder_entries(folder: str | os.PathLike) -> list[VideoEntry]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder of videos")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not paths:
        raise ConfigError(f"{folder}: no video files found (looked for {sorted(VIDEO_EXTENSIONS)})")
    return [VideoEntry(path=str(p), source=str(p.relative_to(folder))) for p in paths]


def kinetics_entries(path: str | os.PathLike) -> list[VideoEntry]:
    path = Path(path)
    if path.is_dir():
        entries = []
        for class_dir in sorted(p for p in path.iterdir() if p.is_dir()):
            for video in sorted(class_dir.iterdir()):
                if video.suffix.lower() in VIDEO_EXTENSIONS:
                    entries.append(VideoEntry(str(video), f"{class_dir.name}/{video.name}",
                                              label=class_dir.name))
        if not entries:
            raise ConfigError(f"{path}: no class folders with videos (Kinetics layout)")
        return entries
    if not path.is_file():
        raise ConfigError(f"{path}: neither a Kinetics CSV nor a folder")
    entries = []
    with open(path, newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or row[0].strip().lower() == "path":
                continue
            if len(row) not in (2, 4):
                raise ConfigError(f"{path}:{n}: expected path,label[,start,end], got {row}")
            video = Path(row[0].strip())
            video = video if video.is_absolute() else path.parent / video
            start, end = (float(row[2]), float(row[3])) if len(row) == 4 else (0.0, None)
            entries.append(VideoEntry(str(video), f"{video}@{start}", label=row[1].strip(),
                                      start_s=start, end_s=end))
    if not entries:
        raise ConfigError(f"{path}: the CSV lists no videos")
    return entries


def make_entries(source: str, root: str | None, split: str = "train") -> list[VideoEntry]:
    """Entries of one of :data:`SOURCES`; ``root`` is the corpus root, folder or CSV."""
    if source == "corpus":
        return corpus_entries(root, split)
    if root is None:
        raise ConfigError(f"data source {source!r} needs a root (folder or CSV path)")
    if source == "folder":
        return folder_entries(root)
    if source == "kinetics":
        return kinetics_entries(root)
    raise ConfigError(f"unknown data source {source!r}; valid: {', '.join(SOURCES)}")


# -- decoding with an optional cache -----------------------------------------------------


class FrameCache:
    """Whole videos decoded once at training resolution (uint8), least-recently-used.

    Decoding competes with training for the same CPU cores; for a small corpus keeping
    every decoded video in memory removes decoding from the training loop altogether.
    """

    def __init__(self, max_bytes: int = 4 << 30):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(self, path: str, short_side: int) -> np.ndarray:
        key = (path, short_side)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        frames = read_video(path, size=short_side).frames
        self._items[key] = frames
        self._bytes += frames.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes
        return frames


@dataclass
class Clip:
    """A sampled clip: ``frames (T, S, S, 3)`` uint8 and where it came from."""

    frames: np.ndarray
    entry: VideoEntry
    start: int  # first frame index in the video
    fps: float
    audio: np.ndarray | None = None  # mono 16 kHz covering the clip (when asked)


@dataclass
class ClipSampler:
    """Draws clips from a list of videos (see the module docstring).

    Args:
        entries: the videos.
        frames / stride: clip length T and the step between the frames taken.
        crop: output side S; the video's shorter side is first resized to
            ``round(scale · crop)``.
        train: random crops and flips (else centred crops, no flip).
        cache: keep decoded videos in memory (:class:`FrameCache`).
        zoom: ``(low, high)``: the crop window's side is ``crop · U(low, high)`` (capped
            by the frame) and is resized to ``crop`` — scale augmentation. None: off.
        color_jitter: strength c of random brightness, contrast and saturation factors
            drawn from ``U(1 − c, 1 + c)`` per clip. 0: off.
        channel_shuffle: permute the RGB channels of each clip at random.
        time_reverse: probability of playing a clip backwards.
        rotate: rotate each clip by a random multiple of 90° (crops are square).
        length_power: videos are drawn with probability ∝ (clip positions)^p: 0 draws
            every video equally often (the paper's Kinetics clips are all ~10 s), 1 every
            clip position equally often; in between tempers a corpus of very unequal
            lengths (videos not probed yet count as the average).

    The five augmentations are not in the paper; they apply to training clips only and
    stretch a small corpus (see ``configs/cpu.yaml``).
    """

    entries: list[VideoEntry]
    frames: int = 32
    stride: int = 1
    crop: int = 112
    scale: float = 1.15
    train: bool = True
    cache: bool = False
    zoom: tuple[float, float] | None = None
    color_jitter: float = 0.0
    channel_shuffle: bool = False
    time_reverse: float = 0.0
    rotate: bool = False
    length_power: float = 0.0
    skipped: int = 0
    _bad: set = field(default_factory=set)
    _frame_cache: FrameCache | None = None
    _audio_cache: dict = field(default_factory=dict)

    def __post_init__(self):
        # Videos known to be shorter than a clip are a matter of configuration, not damage:
        # drop them quietly instead of warning about each one.
        usable = [e for e in self.entries
                  if e.segments is None or any(b - a >= self.span for a, b in e.segments)]
        if len(usable) < len(self.entries):
            log.info("%d of %d videos have no shot of %d frames and are not used",
                     len(self.entries) - len(usable), len(self.entries), self.span)
        if not usable:
            raise ConfigError(
                f"none of the {len(self.entries)} videos has a shot of {self.span} frames; "
                "use fewer frames or a smaller stride"
            )
        self.entries = usable
        self._weights = self._video_weights()

    def _video_weights(self) -> np.ndarray | None:
        if not self.length_power:
            return None
        counts = [sum(max(0, b - a - self.span + 1) for a, b in e.segments)
                  if e.segments is not None else None for e in self.entries]
        known = [c for c in counts if c]
        fill = float(np.mean(known)) if known else 1.0
        w = np.array([float(c) if c else fill for c in counts]) ** self.length_power
        return w / w.sum()

    @property
    def span(self) -> int:
        return (self.frames - 1) * self.stride + 1

    @property
    def short_side(self) -> int:
        return max(self.crop, round(self.scale * self.crop))

    def _skip(self, i: int, reason: str) -> None:
        if i not in self._bad:
            self._bad.add(i)
            self.skipped += 1
            log.warning("skipping %s: %s (%d skipped so far)", self.entries[i].path, reason,
                        self.skipped)

    def _prepare(self, entry: VideoEntry) -> None:
        """Fill in frame ranges and fps for a video not probed yet."""
        info = probe(entry.path)
        entry.fps = info.fps
        entry.has_audio = info.has_audio
        first = int(math.floor(entry.start_s * info.fps))
        last = info.num_frames if entry.end_s is None else min(
            info.num_frames, int(math.floor(entry.end_s * info.fps)))
        entry.segments = [(first, last)]

    def sample(
        self, rng: np.random.Generator, *, exclude: str | None = None, audio: bool = False
    ) -> Clip:
        """Draw one clip; ``exclude`` a source id; ``audio`` only from videos with sound."""
        for _ in range(4 * len(self.entries) + 16):
            if self._weights is None:
                i = int(rng.integers(len(self.entries)))
            else:
                i = int(rng.choice(len(self.entries), p=self._weights))
            entry = self.entries[i]
            if i in self._bad or entry.source == exclude or (audio and entry.has_audio is False):
                continue
            try:
                clip = self._load(i, rng, audio)
            except (CentrifugeError, OSError, ValueError) as e:
                self._skip(i, str(e))
                continue
            if clip is not None:
                return clip
        raise ConfigError(
            f"no usable clip of {self.frames} frames at stride {self.stride} among "
            f"{len(self.entries)} videos ({self.skipped} skipped"
            + (", audio required" if audio else "") + "); use shorter clips or more videos"
        )

    def _load(self, i: int, rng: np.random.Generator, audio: bool) -> Clip | None:
        entry = self.entries[i]
        if entry.segments is None:
            self._prepare(entry)
        if audio and not entry.has_audio:
            return None
        span = self.span
        starts = [(a, b - span + 1) for a, b in entry.segments if b - a >= span]
        if not starts:
            self._skip(i, f"no shot of {span} frames")
            return None
        counts = np.array([hi - lo for lo, hi in starts], dtype=np.float64)
        seg = int(rng.choice(len(starts), p=counts / counts.sum()))
        start = int(rng.integers(starts[seg][0], starts[seg][1]))
        if self.cache:
            if self._frame_cache is None:
                self._frame_cache = FrameCache()
            video = self._frame_cache.get(entry.path, self.short_side)
            frames = video[start : start + span : self.stride]
        else:
            frames = read_video(entry.path, start_s=start / entry.fps, num_frames=span,
                                size=self.short_side).frames[:: self.stride]
        if len(frames) < self.frames:
            self._skip(i, f"decoded {len(frames)} of {self.frames} frames at frame {start}")
            return None
        frames = self._crop(frames, rng)
        wave = self._audio(entry, start) if audio else None
        return Clip(np.ascontiguousarray(frames), entry, start, entry.fps, wave)

    def _crop(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _, h, w, _ = frames.shape
        s = self.crop
        if self.train and self.zoom is not None:
            s = int(round(self.crop * rng.uniform(*self.zoom)))
            s = max(8, min(s, h, w))
        if self.train:
            y, x = int(rng.integers(h - s + 1)), int(rng.integers(w - s + 1))
        else:
            y, x = (h - s) // 2, (w - s) // 2
        frames = frames[:, y : y + s, x : x + s]
        if s != self.crop:
            frames = _resize(frames, self.crop)
        if self.train and rng.random() < 0.5:
            frames = frames[:, :, ::-1]
        if self.train:
            frames = self._augment(frames, rng)
        return frames

    def _augment(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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

    def _audio(self, entry: VideoEntry, start: int) -> np.ndarray:
        if entry.path not in self._audio_cache:
            wave = read_audio(entry.path, missing="none")
            if wave is None:
                raise AudioError(f"{entry.path}: has no audio stream")
            self._audio_cache[entry.path] = wave
        wave = self._audio_cache[entry.path]
        first = int(round(start / entry.fps * 16000))
        n = int(round(self.span / entry.fps * 16000))
        out = wave[first : first + n]
        return np.pad(out, (0, n - len(out))) if len(out) < n else out


def _resize(frames: np.ndarray, side: int) -> np.ndarray:
    """``(T, s, s, 3)`` uint8 → ``(T, side, side, 3)`` (bilinear, antialiased)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear",
                                        antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


# -- blended pairs ------------------------------------------------------------------------


BLENDS = ("transparent", "occlusion", "mixed")


@dataclass
class BlendConfig:
    """How pairs are composed.

    Attributes:
        blend: ``transparent`` (α constant), ``occlusion`` (α = 1 on one SLIC
            supervoxel of V¹, 0 elsewhere) or ``mixed`` (each item one of the two, with
            probability ½: one model for reflections and occluders).
        alpha: transparent α, or a ``[low, high]`` range to draw it from uniformly.
        superpixels: SLIC segments per clip for occlusion blending.
        frozen: how many of the two videos are frozen (one frame repeated): 0, 1 or 2.
        colour: make V² a pure-colour video of this name (psychophysics), or None.
    """

    blend: str = "transparent"
    alpha: float | list[float] = 0.5
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


class BlendedPairs(Dataset):
    """Blends of two clips from different source videos, deterministic per index.

    Each item is a dict:

    * ``mix`` ``(3, T, S, S)``: ``α ⊙ V¹ + (1 − α) ⊙ V²``;
    * ``v1``, ``v2`` ``(3, T, S, S)``: the two layers; ``alpha`` ``(1, T, S, S)``;
    * ``audio`` ``(257, F)``: log-spectrogram of V¹'s sound (only with ``audio=True``);
    * ``meta``: index, source ids and start frames of both clips.

    Args:
        sampler: where clips come from.
        length: number of items.
        seed: with the index, seeds everything random about an item.
        blend: composition settings.
        audio: also return V¹'s log-spectrogram (V¹ is then drawn among videos with sound).
    """

    def __init__(
        self,
        sampler: ClipSampler,
        length: int,
        *,
        seed: int = 0,
        blend: BlendConfig | None = None,
        audio: bool = False,
    ):
        self.sampler = sampler
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
        c1 = self.sampler.sample(rng, audio=self.audio)
        f1 = c1.frames
        t, s = f1.shape[0], f1.shape[1]
        if cfg.colour is not None:
            f2, src2, start2 = None, f"colour:{cfg.colour}", 0
            v2 = pure_colour(cfg.colour, t, s, s)
        else:
            c2 = self.sampler.sample(rng, exclude=c1.entry.source)
            f2, src2, start2 = c2.frames, c2.entry.source, c2.start
        if cfg.frozen >= 1:
            f1 = frozen(f1, rng)
        if cfg.frozen == 2 and f2 is not None:
            f2 = frozen(f2, rng)
        v1 = frames_to_tensor(f1)
        if f2 is not None:
            v2 = frames_to_tensor(f2)
        kind = cfg.blend
        if kind == "mixed":
            kind = "occlusion" if rng.random() < 0.5 else "transparent"
        if kind == "occlusion":
            mask = random_supervoxel_mask(f1, rng, n_segments=cfg.superpixels)
            alpha = occlusion_alpha(mask)
        else:
            lo, hi = cfg.alpha if isinstance(cfg.alpha, (list, tuple)) else (cfg.alpha,) * 2
            alpha = transparent_alpha((t, s, s), float(rng.uniform(lo, hi)) if hi > lo else lo)
        item = {
            "mix": blend(v1, v2, alpha),
            "v1": v1,
            "v2": v2,
            "alpha": alpha,
            "meta": {"index": int(index), "blend": kind, "source1": c1.entry.source,
                     "start1": c1.start, "source2": src2, "start2": start2},
        }
        if self.audio:
            item["audio"] = clip_log_spectrogram(c1.audio, 0, self.sampler.span, c1.fps)
        return item


def stack_targets(batch: dict) -> torch.Tensor:
    """``(B, 2, 3, T, H, W)`` targets [V¹, V²] of a collated batch."""
    return torch.stack([batch["v1"], batch["v2"]], dim=1)
