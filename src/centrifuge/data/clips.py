"""Drawing clips from real videos: :class:`ClipSampler` and its decoded-video cache.

A clip is T frames at a frame stride, inside one shot (the corpus knows its cuts; other
sources count as one shot per video) and inside the video. As in the paper (§4), the
shorter side is resized to 1.15× the crop, then a random spatio-temporal crop is taken;
training clips are then augmented (:class:`~centrifuge.data.augment.AugmentConfig`) and
validation clips are centred crops.

A corrupt or too-short video is skipped with a logged warning and counted
(:attr:`ClipSampler.skipped`); it is never retried, and training never crashes on it.

Everything random is drawn from the ``numpy.random.Generator`` the caller passes (seeded
by ``(seed, index)``), so a seeded validation set is identical on every machine.

Frames: ``(T, S, S, 3)`` uint8.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from centrifuge.data.augment import AugmentConfig
from centrifuge.data.entries import VideoEntry
from centrifuge.errors import AudioError, CentrifugeError, ConfigError
from centrifuge.io import probe, read_audio, read_video
from centrifuge.io.audio import SAMPLE_RATE, audio_window, is_silent

log = logging.getLogger("centrifuge.data")


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


class ClipSampler:
    """Draws clips from a list of videos (see the module docstring).

    Args:
        entries: the videos.
        frames / stride: clip length T and the step between the frames taken.
        crop: output side S; the video's shorter side is first resized to
            ``round(scale · crop)``.
        train: random crops and augmentation (else centred crops, nothing random).
        cache: keep decoded videos in memory (:class:`FrameCache`).
        augment: what training clips get (default: the paper's random flip only).
        length_power: videos are drawn with probability ∝ (clip positions)^p: 0 draws
            every video equally often (the paper's Kinetics clips are all ~10 s), 1 every
            clip position equally often; in between tempers a corpus of very unequal
            lengths (videos not probed yet count as the average).
    """

    def __init__(
        self,
        entries: list[VideoEntry],
        *,
        frames: int = 32,
        stride: int = 1,
        crop: int = 112,
        scale: float = 1.15,
        train: bool = True,
        cache: bool = False,
        augment: AugmentConfig | None = None,
        length_power: float = 0.0,
    ):
        self.frames, self.stride, self.crop, self.scale = frames, stride, crop, scale
        self.train, self.cache = train, cache
        self.augment = augment or AugmentConfig()
        self.length_power = length_power
        self.skipped = 0
        self._bad: set[int] = set()
        self._frame_cache: FrameCache | None = None
        self._audio_cache: dict[str, np.ndarray] = {}
        # Videos known to be shorter than a clip are a matter of configuration, not damage:
        # drop them quietly instead of warning about each one.
        usable = [e for e in entries
                  if e.segments is None or any(b - a >= self.span for a, b in e.segments)]
        if len(usable) < len(entries):
            log.info("%d of %d videos have no shot of %d frames and are not used",
                     len(entries) - len(usable), len(entries), self.span)
        if not usable:
            raise ConfigError(
                f"none of the {len(entries)} videos has a shot of {self.span} frames; "
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
        """Frames a clip covers in the video at the base stride."""
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
        self, rng: np.random.Generator, *, exclude: str | None = None, audio: bool = False,
        audio_offset: float = 0.0,
    ) -> Clip:
        """Draw one clip; ``exclude`` a scene (:attr:`VideoEntry.scene`); ``audio`` only
        from videos with sound that is not silent, with the sound of the clip's window
        shifted by ``audio_offset`` seconds (ICCV Appendix C)."""
        for _ in range(4 * len(self.entries) + 16):
            if self._weights is None:
                i = int(rng.integers(len(self.entries)))
            else:
                i = int(rng.choice(len(self.entries), p=self._weights))
            entry = self.entries[i]
            if i in self._bad or entry.scene == exclude or (audio and entry.has_audio is False):
                continue
            try:
                clip = self._load(i, rng, audio, audio_offset)
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

    def _load(self, i: int, rng: np.random.Generator, audio: bool,
              audio_offset: float = 0.0) -> Clip | None:
        entry = self.entries[i]
        if entry.segments is None:
            self._prepare(entry)
        if audio and not entry.has_audio:
            return None
        if audio and self._soundtrack(entry) is None:
            self._skip(i, "its soundtrack is silent")
            return None
        # Speed augmentation: a larger frame step where the shot is long enough (not with
        # sound, which would have to be sped up with the frames).
        speed = self.augment.draw_speed(rng) if self.train and not audio else 1
        stride = self.stride * speed
        while True:
            span = (self.frames - 1) * stride + 1
            starts = [(a, b - span + 1) for a, b in entry.segments if b - a >= span]
            if starts or stride == self.stride:
                break
            stride -= self.stride
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
            frames = video[start : start + span : stride]
        else:
            frames = read_video(entry.path, start_s=start / entry.fps, num_frames=span,
                                size=self.short_side).frames[::stride]
        if len(frames) < self.frames:
            self._skip(i, f"decoded {len(frames)} of {self.frames} frames at frame {start}")
            return None
        frames = self._crop(frames, rng)
        wave = self._audio(entry, start, span, audio_offset) if audio else None
        return Clip(np.ascontiguousarray(frames), entry, start, entry.fps, wave)

    def _crop(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _, h, w, _ = frames.shape
        s = self.crop
        if self.train:
            s = max(8, min(self.augment.crop_side(self.crop, rng), h, w))
            y, x = int(rng.integers(h - s + 1)), int(rng.integers(w - s + 1))
        else:
            y, x = (h - s) // 2, (w - s) // 2
        frames = frames[:, y : y + s, x : x + s]
        if s != self.crop:
            frames = resize_frames(frames, self.crop)
        return self.augment.apply(frames, rng) if self.train else frames

    def _soundtrack(self, entry: VideoEntry) -> np.ndarray | None:
        """The whole mono 16 kHz soundtrack (cached), None when it is silent: a silent
        track controls nothing."""
        if entry.path not in self._audio_cache:
            wave = read_audio(entry.path, missing="none")
            if wave is None:
                raise AudioError(f"{entry.path}: has no audio stream")
            self._audio_cache[entry.path] = None if is_silent(wave) else wave
        return self._audio_cache[entry.path]

    def _audio(self, entry: VideoEntry, start: int, span: int,
               offset: float = 0.0) -> np.ndarray:
        wave = self._soundtrack(entry)
        first = int(round((start / entry.fps + offset) * SAMPLE_RATE))
        return audio_window(wave, first, int(round(span / entry.fps * SAMPLE_RATE)))


def resize_frames(frames: np.ndarray, side: int) -> np.ndarray:
    """``(T, s, s, 3)`` uint8 → ``(T, side, side, 3)`` (bilinear, antialiased)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear",
                                        antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
