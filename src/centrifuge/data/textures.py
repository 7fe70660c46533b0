"""The appearance bank of synthetic video: real pixels and procedural textures.

Synthetic layers (:mod:`centrifuge.data.synthetic`) take their pixels from here:

* the still photographs that ship inside scikit-image (read from the package folder
  with PIL, never fetched: ``skimage.data`` downloads some images on demand, we only
  take the files already installed);
* frames of the corpus **train** clips (never val: validation stays unseen), by default
  6 per clip (``frames_per_clip``);
* optionally the corpus *stills* (``stills=True``): photographs from the same pinned
  packages (:data:`centrifuge.data.sources.STILLS`), none of a val scene;
* procedural textures (smooth noise, stripes, checkers, gradients), seeded.

Every image is a ``side × side`` RGB square (centre crop of the shorter side) with a
SLIC segmentation, whose segments become object-like sprites with their own pixels.
The bank is plain tensors, so it moves to a GPU with ``.to(device)`` and travels as one
safetensors file (:meth:`TextureBank.save`, a few MB) to a machine without the corpus.

Tensors: ``images (N, 3, side, side)`` uint8; ``labels (N, side, side)`` int16;
``segments (M, 6)`` float: image index, label, centre y, centre x (normalised to
[−1, 1]), half-height, half-width.
"""

from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from centrifuge.errors import ConfigError

log = logging.getLogger("centrifuge.data")

# scikit-image's bundled photographs (files in skimage/data/, no download needed).
SKIMAGE_STILLS = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "color.png", "grass.png", "gravel.png", "hubble_deep_field.jpg",
    "ihc.png", "logo.png", "microaneurysms.png", "moon.png", "motorcycle_left.png", "page.png",
    "retina.jpg", "rocket.jpg", "text.png",
)
FRAMES_PER_CLIP = 6
PROCEDURAL = 24
SIDE = 256


def _square(img: np.ndarray, side: int) -> np.ndarray:
    """Centre crop to a square and resize: ``(H, W, 3)`` uint8 → ``(side, side, 3)``."""
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return np.asarray(Image.fromarray(img[y : y + s, x : x + s]).resize((side, side),
                                                                       Image.BILINEAR))


def skimage_stills(side: int = SIDE) -> list[np.ndarray]:
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    out = []
    for name in SKIMAGE_STILLS:
        path = folder / name
        if not path.is_file():  # a different scikit-image release: use what is there
            continue
        img = np.asarray(Image.open(path).convert("RGB"))
        out.append(_square(img, side))
    return out


def corpus_frames(root: str | os.PathLike | None = None, side: int = SIDE,
                  per_clip: int = FRAMES_PER_CLIP) -> list[np.ndarray]:
    """Evenly spaced frames of every corpus **train** clip (each frame once: a clip
    shorter than ``per_clip`` gives all it has)."""
    from centrifuge.data.corpus import Corpus
    from centrifuge.io import read_video

    corpus = Corpus.load(root)
    out = []
    for clip in corpus.split("train"):
        n = clip["num_frames"]
        for k in np.unique(np.linspace(0, n - 1, per_clip + 2)[1:-1].round().astype(int)):
            frames = read_video(corpus.path(clip), start_s=k / clip["fps"], num_frames=1,
                                size=side).frames
            if len(frames):
                out.append(_square(frames[0], side))
    return out


def tiles(img: np.ndarray, k: int, side: int = SIDE) -> list[np.ndarray]:
    """``k`` square windows side by side across the middle of ``img`` (a panorama's
    horizon band), each resized to ``side``; ``k = 1``: the centre square."""
    h, w = img.shape[:2]
    if k == 1:
        return [_square(img, side)]
    s = min(w // k, h)
    y = (h - s) // 2
    return [_square(img[y : y + s, i * s : (i + 1) * s], side) for i in range(k)]


def corpus_stills(root: str | os.PathLike | None = None, side: int = SIDE) -> list[np.ndarray]:
    """The corpus stills, each cut into its source's ``tiles`` squares."""
    from centrifuge.data.corpus import Corpus

    corpus = Corpus.load(root)
    if not corpus.stills:
        raise ConfigError(f"the corpus at {corpus.root} has no stills (built before they "
                          "were added): run `centrifuge corpus build` to fetch them")
    out = []
    for still in corpus.stills:
        with Image.open(corpus.root / still["file"]) as f:
            out += tiles(np.asarray(f.convert("RGB")), still.get("tiles", 1), side)
    return out


def procedural_textures(n: int = PROCEDURAL, side: int = SIDE, seed: int = 0) -> list[np.ndarray]:
    """Smooth coloured noise, stripes, checkers and gradients (seeded)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    out = []
    for i in range(n):
        kind = i % 4
        colours = rng.uniform(0, 1, size=(2, 3)).astype(np.float32)
        if kind == 0:  # smooth noise: a few octaves of upsampled random grids
            v = np.zeros((side, side), np.float32)
            for octave in (4, 8, 16, 32):
                g = torch.from_numpy(rng.standard_normal((1, 1, octave, octave)).astype(np.float32))
                v += F.interpolate(g, size=(side, side), mode="bicubic",
                                   align_corners=False)[0, 0].numpy() * (8 / octave)
            t = (v - v.min()) / (np.ptp(v) + 1e-6)
        elif kind == 1:  # stripes at a random angle and frequency
            a, f = rng.uniform(0, np.pi), rng.uniform(4, 24)
            t = 0.5 + 0.5 * np.sin(2 * np.pi * f * (np.cos(a) * xx + np.sin(a) * yy))
        elif kind == 2:  # checkers
            f = int(rng.integers(3, 16))
            t = ((np.floor(xx * f) + np.floor(yy * f)) % 2).astype(np.float32)
        else:  # linear gradient
            a = rng.uniform(0, 2 * np.pi)
            t = np.cos(a) * xx + np.sin(a) * yy
            t = (t - t.min()) / (np.ptp(t) + 1e-6)
        img = colours[0] * t[..., None] + colours[1] * (1 - t[..., None])
        out.append((img.clip(0, 1) * 255).round().astype(np.uint8))
    return out


def _segments(labels: np.ndarray, index: int) -> list[list[float]]:
    """Sprite-sized SLIC segments of one image: ``[index, label, cy, cx, hy, hx]``."""
    side = labels.shape[0]
    rows = []
    for lab in np.unique(labels):
        ys, xs = np.nonzero(labels == lab)
        if len(ys) < 0.01 * side * side:  # too small to be a sprite
            continue
        cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
        hy, hx = (ys.max() - ys.min() + 1) / 2, (xs.max() - xs.min() + 1) / 2
        rows.append([index, float(lab), 2 * cy / side - 1, 2 * cx / side - 1,
                     2 * hy / side, 2 * hx / side])
    return rows


@dataclass
class TextureBank:
    images: torch.Tensor  # (N, 3, side, side) uint8
    labels: torch.Tensor  # (N, side, side) int16
    segments: torch.Tensor  # (M, 6) float32

    def __len__(self) -> int:
        return len(self.images)

    def __post_init__(self):
        self._soft: dict[tuple[int, int], torch.Tensor] = {}
        self._float: torch.Tensor | None = None

    def float_images(self) -> torch.Tensor:
        """The images as float in [0, 1] (converted once: every layer of every scene
        samples them)."""
        if self._float is None:
            self._float = self.images.float() / 255
        return self._float

    def segment_masks(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Soft masks ``(B, 1, side, side)`` of SLIC segment ``labels`` of ``images``
        (edges softened over 5 px; memoised, as the same segments recur)."""
        out = []
        for i, lab in zip(images.tolist(), labels.tolist(), strict=True):
            key = (i, lab)
            if key not in self._soft:
                m = (self.labels[i] == lab).float()[None, None]
                self._soft[key] = F.avg_pool2d(m, 5, stride=1, padding=2,
                                               count_include_pad=False)[0]
            out.append(self._soft[key])
        return torch.stack(out)

    @classmethod
    def from_images(cls, images: list[np.ndarray], n_segments: int = 12) -> TextureBank:
        from skimage.segmentation import slic

        if not images:
            raise ConfigError("the texture bank needs at least one image")
        labels, rows = [], []
        for i, img in enumerate(images):
            lab = slic(img, n_segments=n_segments, compactness=10.0, start_label=0,
                       channel_axis=-1)
            labels.append(lab.astype(np.int16))  # SLIC may exceed n_segments a little
            rows += _segments(lab, i)
        return cls(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
                   torch.from_numpy(np.stack(labels)),
                   torch.tensor(rows, dtype=torch.float32))

    @classmethod
    def build(cls, root: str | os.PathLike | None = None, *, corpus: bool = True,
              side: int = SIDE, frames_per_clip: int = FRAMES_PER_CLIP,
              stills: bool = False) -> TextureBank:
        """scikit-image's stills + procedural textures; with ``corpus`` the train clips'
        frames (``frames_per_clip`` each), with ``stills`` also the corpus stills."""
        images = skimage_stills(side) + procedural_textures(side=side)
        if stills:
            images += corpus_stills(root, side)
        if corpus:
            images += corpus_frames(root, side, frames_per_clip)
        return cls.from_images(images)

    def to(self, device) -> TextureBank:
        return TextureBank(self.images.to(device), self.labels.to(device),
                           self.segments.to(device))

    def save(self, path: str | os.PathLike) -> None:
        """Write the bank as safetensors; gzipped when ``path`` ends in ``.gz`` (a third
        of the size: what a lent GPU machine's 64 MiB carry can hold)."""
        from safetensors.torch import save

        data = save({"images": self.images, "labels": self.labels,
                     "segments": self.segments})
        Path(path).write_bytes(gzip.compress(data, 6) if str(path).endswith(".gz") else data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TextureBank:
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            data = Path(path).read_bytes()
            if str(path).endswith(".gz"):
                data = gzip.decompress(data)
            t = load(data)
            return cls(t["images"], t["labels"], t["segments"])
        except (OSError, EOFError, SafetensorError, KeyError) as e:
            raise ConfigError(f"{path}: not a texture bank ({e}); "
                              "write one with TextureBank.build(...).save(path) or "
                              "`centrifuge corpus bundle DIR --textures-only`") from None


_BANKS: dict[tuple, TextureBank] = {}


def shared_bank(root: str | None = None, *, corpus: bool = True, path: str | None = None,
                frames_per_clip: int = FRAMES_PER_CLIP, stills: bool = False) -> TextureBank:
    """One bank per process and setting (building it takes a few seconds)."""
    key = (root, corpus, path, frames_per_clip, stills)
    if key not in _BANKS:
        _BANKS[key] = TextureBank.load(path) if path else TextureBank.build(
            root, corpus=corpus, frames_per_clip=frames_per_clip, stills=stills)
        b = _BANKS[key]
        log.info("texture bank: %d images, %d sprite segments", len(b), len(b.segments))
    return _BANKS[key]
