"""Procedural layered video, made on the fly (in the spirit of FlyingChairs and AutoFlow).

A scene is a background image moving under a smooth random camera path (translation,
zoom, rotation, perspective) with 1–6 sprites in front — image regions with soft alpha
masks (SLIC segments of real photographs, blobs, rounded boxes) — each on its own smooth
trajectory with scale and rotation changes, occluding each other back to front.
Optional illumination change, motion blur, sensor noise and compression artefacts make
it look more like camera footage. Pixels come from :class:`~centrifuge.data.textures.TextureBank`
(scikit-image stills, corpus *train* frames, procedural textures).

Two halves:

* :func:`draw_scene` draws a scene's parameters from a ``numpy.random.Generator``
  (seeded by ``(seed, index)`` like the rest of the data) — cheap, on the CPU;
* :func:`render` turns a batch of scenes into video with ``grid_sample`` warps and
  alpha compositing, on whatever device the bank lives on (GPU when training there).

:class:`SyntheticSampler` wraps both behind the ``sample(rng)`` interface of
:class:`~centrifuge.data.clips.ClipSampler`, so :class:`~centrifuge.data.pairs.BlendedPairs`
blends synthetic with synthetic or with real clips. Asked for sound, it adds a soundtrack
made from the scene's own motion (:mod:`~centrifuge.data.soundtrack`).

Shape:
    :func:`render` → ``(B, 3, T, S, S)`` float in [0, 1] (and sprite masks
    ``(B, K, T, S, S)`` on request).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from centrifuge.data.clips import Clip
from centrifuge.data.entries import VideoEntry
from centrifuge.data.mixing import SENSOR_NOISE_SIGMA
from centrifuge.data.textures import TextureBank
from centrifuge.errors import ConfigError

MAX_SPRITES = 6


@dataclass
class SyntheticConfig:
    """Knobs of the generator (``data.synthetic`` in the training config).

    Attributes:
        sprites: ``[low, high]`` sprites per scene (at most 6).
        motion: scale of background and sprite motion (1: up to about a frame width per
            clip for the fastest sprites).
        motion_blur / noise / compression / illumination: probability that a scene gets
            each camera effect.
        coherence: how much each sprite moves with its own layer's background (0: its
            own path only, as before; 1: carried by the camera). Grouping cue: in a real
            layer (a reflected room, a scene behind glass) most content shares the
            camera's motion; with independent sprites, which layer a sprite belongs to
            is not decided by anything in the blend.
        palette: probability that a blob or box sprite takes its pixels from its layer's
            background image (another window of it): a shared palette, a second cue.
    """

    sprites: list = field(default_factory=lambda: [1, MAX_SPRITES])
    motion: float = 1.0
    motion_blur: float = 0.3
    noise: float = 0.5
    compression: float = 0.3
    illumination: float = 0.5
    coherence: float = 0.0
    palette: float = 0.0

    def __post_init__(self):
        s = list(self.sprites)
        if len(s) != 2 or not 0 <= s[0] <= s[1] <= MAX_SPRITES:
            raise ConfigError(f"synthetic.sprites must be [low, high] within 0..{MAX_SPRITES}, "
                              f"got {s}")
        for name in ("motion_blur", "noise", "compression", "illumination", "coherence",
                     "palette"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"synthetic.{name} is a probability, got {getattr(self, name)}")
        if not self.motion >= 0:
            raise ConfigError(f"synthetic.motion must be ≥ 0, got {self.motion}")


# -- parameters ---------------------------------------------------------------------------


def _affine(cy, cx, scale_y, scale_x, angle) -> np.ndarray:
    """3×3 matrices (…, 3, 3) of x ↦ centre + R(angle)·diag(scale)·x (normalised (x, y))."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros((*np.shape(cy), 3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = c * scale_x, -s * scale_y, cx
    m[..., 1, 0], m[..., 1, 1], m[..., 1, 2] = s * scale_x, c * scale_y, cy
    m[..., 2, 2] = 1
    return m


def _path(rng, start, speed, times, record: list | None = None):
    """A smooth 1-D path through ``start`` over ``times`` in [0, 1]: velocity + curvature
    (its coefficients appended to ``record``: :func:`path_at` evaluates it anywhere)."""
    v = rng.normal(0, speed)
    a = rng.normal(0, speed / 2)
    if record is not None:
        record.append((float(np.mean(start)), v, a))
    return path_at((start, v, a), times)


def path_at(coeffs, times):
    """A path of :func:`_path` at ``times`` (clip time in [0, 1]; any value works)."""
    start, v, a = coeffs
    return start + v * (times - 0.5) + a * ((times - 0.5) ** 2 - 1 / 12)


def _times(frames: int) -> np.ndarray:
    """Render times in [0, 1], ``(T, 1)`` (the trailing axis keeps paths 2-D)."""
    return (np.arange(frames) / max(1, frames - 1))[:, None]


def _draw_look(rng: np.random.Generator, bank: TextureBank, n_img: int):
    """What one sprite looks like: its kind (1 SLIC segment, 2 blob, 3 box), image, SLIC
    label, texture window (an affine map) and blob shape (draws in the scene's order)."""
    kind = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])) if len(bank.segments) else int(
        rng.choice([2, 3]))
    shape = np.zeros(7)
    if kind == 1:
        seg = bank.segments[int(rng.integers(len(bank.segments)))].tolist()
        return kind, int(seg[0]), int(seg[1]), _affine(seg[2], seg[3], seg[4], seg[5], 0.0), \
            shape
    image = int(rng.integers(n_img))
    s = rng.uniform(0.2, 0.5)  # the window stays inside the image, even turned
    tex = _affine(rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), s, s,
                  rng.uniform(-np.pi, np.pi))
    shape[:] = [rng.uniform(0.05, 0.25), rng.uniform(0.05, 0.2), rng.uniform(0, 0.1),
                *rng.uniform(0, 2 * np.pi, size=3), rng.uniform(2.5, 8.0)]
    return kind, image, 0, tex, shape


def draw_scene(rng: np.random.Generator, bank: TextureBank, frames: int,
               cfg: SyntheticConfig | None = None) -> dict:
    """Parameters of one scene (numpy arrays; see :func:`render`)."""
    cfg = cfg or SyntheticConfig()
    m = cfg.motion
    blur = float(rng.uniform(0.3, 1.0)) if rng.random() < cfg.motion_blur else 0.0
    times = _times(frames)  # (T, 1)
    n_img = len(bank)
    # Background: the frame sees a window of the image that pans, zooms, turns, tilts.
    zoom = rng.uniform(0.35, 0.9) * np.exp(_path(rng, 0.0, 0.3 * m, times))
    angle = _path(rng, rng.normal(0, 0.15), 0.25 * m, times)
    camera: list = []
    cy = _path(rng, rng.uniform(-0.3, 0.3), 0.5 * m, times, camera)
    cx = _path(rng, rng.uniform(-0.3, 0.3), 0.5 * m, times, camera)
    bg = _affine(cy, cx, zoom, zoom, angle)
    tilt = rng.normal(0, 0.15, size=2) + np.outer(times.ravel() - 0.5,
                                                   rng.normal(0, 0.15 * m, size=2)).reshape(
        *times.shape, 2)
    bg[..., 2, 0], bg[..., 2, 1] = tilt[..., 0], tilt[..., 1]
    # Sprites, back to front.
    k = int(rng.integers(cfg.sprites[0], cfg.sprites[1] + 1))
    sp_tex = np.zeros((MAX_SPRITES, *times.shape, 3, 3))
    sp_tex[..., 2, 2] = 1
    sp_local = sp_tex.copy()
    kinds = np.zeros(MAX_SPRITES, np.int64)  # 0 unused, 1 SLIC segment, 2 blob, 3 box
    images = np.zeros(MAX_SPRITES, np.int64)
    labels = np.zeros(MAX_SPRITES, np.int64)
    shape = np.zeros((MAX_SPRITES, 7))
    paths = np.zeros((MAX_SPRITES, 2, 3))  # (py, px) coefficients: the soundtrack's cue
    for i in range(k):
        size = rng.uniform(0.12, 0.45) * np.exp(_path(rng, 0.0, 0.4 * m, times))
        aspect = np.exp(rng.normal(0, 0.25))
        turn = _path(rng, rng.uniform(-np.pi, np.pi), 0.8 * m, times)
        record: list = []
        py = _path(rng, rng.uniform(-0.7, 0.7), 1.2 * m, times, record)
        px = _path(rng, rng.uniform(-0.7, 0.7), 1.2 * m, times, record)
        if cfg.coherence:
            # Carried by the camera: background content at a fixed texture point moves
            # by −Δcentre / zoom in the frame (rotation and tilt ignored).
            c = cfg.coherence
            py = (1 - c) * py + c * (record[0][0] - (cy - cy.mean()) / zoom)
            px = (1 - c) * px + c * (record[1][0] - (cx - cx.mean()) / zoom)
            record = [(s, (1 - c) * v, (1 - c) * a) for s, v, a in record]  # own motion
        paths[i] = record
        # output → sprite-local coordinates: the inverse of the sprite's pose.
        pose = _affine(py, px, size * aspect, size / aspect, turn)
        sp_local[i] = np.linalg.inv(pose)
        kinds[i], images[i], labels[i], tex, shape[i] = _draw_look(rng, bank, n_img)
        sp_tex[i] = tex @ sp_local[i]
    light = rng.random() < cfg.illumination
    gain = np.exp(rng.normal(0, 0.25) * (times.mean(1) - 0.5)) if light else np.ones(frames)
    slope = rng.normal(0, 0.2, size=2) if light else np.zeros(2)
    # Drawn in the order of the dictionary below (before these knobs existed), so that
    # scenes with coherence = palette = 0 stay exactly what they were.
    bg_image = int(rng.integers(n_img))
    effects = {
        "noise": float(rng.uniform(*SENSOR_NOISE_SIGMA)) if rng.random() < cfg.noise else 0.0,
        "levels": float(rng.uniform(24, 96)) if rng.random() < cfg.compression else 0.0,
        "block": float(rng.uniform(0.1, 0.35)),
        "noise_seed": int(rng.integers(2**31)),
    }
    if cfg.palette:
        for i in range(k):
            if kinds[i] > 1 and rng.random() < cfg.palette:
                images[i] = bg_image
    return {
        "bg_image": bg_image,
        "bg": bg,
        "kinds": kinds, "images": images, "labels": labels, "shape": shape,
        "sp_tex": sp_tex, "sp_local": sp_local,
        "sprites": k, "paths": paths, "camera": np.array(camera),
        "gain": gain, "slope": slope,
        **effects,
        "blur": blur,
    }


# -- rendering ----------------------------------------------------------------------------


def _grid(mats: torch.Tensor, size: int) -> torch.Tensor:
    """Sampling grids for ``grid_sample``: mats ``(B, F, 3, 3)`` → ``(B, F·S, S, 2)``.

    The F frames are stacked along the grid's height so that one image per batch entry
    serves all frames without being copied F times. (Written out elementwise: a batched
    matmul with an inner size of 3 is several times slower on CPUs.)
    """
    b, f = mats.shape[:2]
    lin = (torch.arange(size, device=mats.device, dtype=torch.float32) + 0.5) * 2 / size - 1
    x, y = lin.view(1, 1, 1, size), lin.view(1, 1, size, 1)
    m = mats.view(b, f, 9, 1, 1)
    w = (m[:, :, 6] * x + m[:, :, 7] * y + m[:, :, 8]).clamp_min(1e-3)
    grid = torch.empty(b, f, size, size, 2, device=mats.device)
    torch.div(m[:, :, 0] * x + m[:, :, 1] * y + m[:, :, 2], w, out=grid[..., 0])
    torch.div(m[:, :, 3] * x + m[:, :, 4] * y + m[:, :, 5], w, out=grid[..., 1])
    return grid.view(b, f * size, size, 2)


def _sample(images: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding,
                         align_corners=False)


def _shape_mask(local: torch.Tensor, shape: torch.Tensor, kind: torch.Tensor,
                size: int) -> torch.Tensor:
    """Analytic soft masks of blobs (kind 2) and rounded boxes (kind 3) in sprite-local
    coordinates: local ``(B, F, 3, 3)`` → ``(B, F·S, S)``."""
    grid = _grid(local, size)  # sprite-local (x, y) at every output pixel
    x, y = grid[..., 0], grid[..., 1]
    p = shape.view(-1, 7, 1, 1)
    r = torch.sqrt(x * x + y * y + 1e-8)
    z = torch.complex(x / r, y / r)  # e^{iθ}; harmonics by powers instead of atan2/cos
    z2 = z * z
    z3, z5 = z2 * z, z2 * z2 * z

    def harmonic(zk, phase):
        return (zk * torch.polar(torch.ones_like(phase), phase)).real

    wobble = (p[:, 0] * harmonic(z2, p[:, 3]) + p[:, 1] * harmonic(z3, p[:, 4])
              + p[:, 2] * harmonic(z5, p[:, 5]))
    blob = 0.85 * (1 + wobble) - r
    e = p[:, 6]
    box = 0.85 - (x.abs() ** e + y.abs() ** e + 1e-8) ** (1 / e)
    d = torch.where(kind.view(-1, 1, 1) == 2, blob, box)
    return torch.sigmoid(d / 0.04)


def render(scenes: list[dict], bank: TextureBank, size: int,
           return_masks: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Render scenes drawn by :func:`draw_scene` on ``bank``'s device.

    Returns:
        video ``(B, 3, T, S, S)`` in [0, 1]; with ``return_masks`` also each sprite's
        visible (occlusion-aware) mask ``(B, K, T, S, S)``.
    """
    dev = bank.images.device
    b = len(scenes)
    frames = f = scenes[0]["bg"].shape[0]

    def stack(key, dtype=torch.float32):
        return torch.as_tensor(np.stack([s[key] for s in scenes]), dtype=dtype, device=dev)

    def image(idx: torch.Tensor) -> torch.Tensor:
        return bank.float_images()[idx]

    bg = stack("bg").view(b, f, 3, 3)
    out = _sample(image(stack("bg_image", torch.long)), _grid(bg, size), "reflection")
    kinds, images, labels = (stack(k, torch.long) for k in ("kinds", "images", "labels"))
    shape = stack("shape")
    sp_tex = stack("sp_tex").view(b, MAX_SPRITES, f, 3, 3)
    sp_local = stack("sp_local").view(b, MAX_SPRITES, f, 3, 3)
    masks = []
    for i in range(MAX_SPRITES):
        kind = kinds[:, i]
        if not bool((kind > 0).any()):
            break  # sprites are packed first: the rest are unused everywhere
        # Colour and SLIC-segment mask in one warp (zeros outside the image: the mask is
        # zero there too, so the padding never shows).
        rgbm = torch.cat([image(images[:, i]), bank.segment_masks(images[:, i], labels[:, i])],
                         1)
        warped = _sample(rgbm, _grid(sp_tex[:, i], size), "zeros")
        colour, mask = warped[:, :3], warped[:, 3]
        if bool((kind > 1).any()):
            analytic = _shape_mask(sp_local[:, i], shape[:, i], kind, size)
            mask = torch.where(kind.view(-1, 1, 1) > 1, analytic, mask)
        mask = mask * (kind > 0).view(-1, 1, 1)
        out = mask[:, None] * colour + (1 - mask[:, None]) * out
        if return_masks:
            masks = [m * (1 - mask) for m in masks] + [mask]
    video = _camera_effects(out.view(b, 3, frames, size, size), scenes, dev)
    if not return_masks:
        return video
    sprite_masks = torch.zeros(b, MAX_SPRITES, frames, size, size, device=dev)
    for i, m in enumerate(masks):
        sprite_masks[:, i] = m.view(b, frames, size, size)
    return video, sprite_masks


def _camera_effects(video: torch.Tensor, scenes: list[dict], dev) -> torch.Tensor:
    """Motion blur, illumination change, sensor noise and compression-like artefacts.

    Motion blur is a temporal filter ``[b, 1, b]`` over neighbouring frames: for smooth
    motion that is the blur of a shutter open about ``b`` of a frame interval, without
    rendering sub-frames."""
    b, _, t, s, _ = video.shape
    lin = (torch.arange(s, device=dev, dtype=torch.float32) + 0.5) / s - 0.5
    out = []
    for i, sc in enumerate(scenes):
        v = video[i]
        if sc["blur"] and t > 2:
            pad = torch.cat([v[:, :1], v, v[:, -1:]], 1)
            v = (sc["blur"] * (pad[:, :-2] + pad[:, 2:]) + v) / (1 + 2 * sc["blur"])
        gain = torch.as_tensor(sc["gain"], dtype=torch.float32, device=dev).view(1, t, 1, 1)
        sy, sx = (float(x) for x in sc["slope"])
        v = v * gain * (1 + sy * lin.view(1, 1, s, 1) + sx * lin.view(1, 1, 1, s))
        if sc["noise"]:
            g = torch.Generator(device=dev).manual_seed(sc["noise_seed"])
            v = v + sc["noise"] * torch.randn(v.shape, generator=g, device=dev)
        if sc["levels"]:
            k = 8 if s >= 32 else 2
            blocks = F.interpolate(F.avg_pool2d(v, k), size=(s, s), mode="nearest")
            v = v + sc["block"] * (blocks - v)
            v = torch.round(v * sc["levels"]) / sc["levels"]
        out.append(v.clamp(0, 1))
    return torch.stack(out)


# -- as a clip source ---------------------------------------------------------------------


class SyntheticSampler:
    """Synthetic clips behind the ``sample(rng)`` interface of real-clip samplers.

    Each call draws and renders one scene on ``bank``'s device and returns uint8 frames
    ``(T, S, S, 3)`` like a decoded video. Every scene is its own "source", so blends
    never pair a scene with itself.
    """

    def __init__(self, bank: TextureBank, *, frames: int, crop: int,
                 config: SyntheticConfig | None = None, fps: float = 25.0):
        self.bank, self.frames, self.crop = bank, frames, crop
        self.config = config or SyntheticConfig()
        self.fps = fps

    @property
    def span(self) -> int:
        return self.frames

    def sample(self, rng: np.random.Generator, *, exclude: str | None = None,
               audio: bool = False, audio_offset: float = 0.0) -> Clip:
        scene = draw_scene(rng, self.bank, self.frames, self.config)
        with torch.no_grad():
            video = render([scene], self.bank, self.crop)[0]
        frames = (video.permute(1, 2, 3, 0) * 255).round().to(torch.uint8).cpu().numpy()
        name = f"synthetic:{int(rng.integers(2**62)):x}"
        wave = None
        if audio:
            from centrifuge.data.soundtrack import draw_sounds, soundtrack

            # drawn after the picture: the video stream is the same with or without sound
            wave = soundtrack(scene, draw_sounds(rng, scene), self.frames, self.fps,
                              offset_s=audio_offset)
        return Clip(frames, VideoEntry(path="<synthetic>", source=name), 0, self.fps, wave)
