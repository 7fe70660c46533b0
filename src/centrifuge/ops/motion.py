"""Motion handed to a network instead of left for it to discover.

The CPU campaign's networks separate by colour, never by motion: on the same blends
with every frame replaced by the first they do as well (docs/motion.md, "What the
plateau is"). A transparent blend of two layers moving differently holds, for each
layer, a way to see it alone: follow the layer's motion and average over time — that
layer stays sharp, the other smears. This module computes that, with no learning, as
extra input channels (``centrifuge_small``'s ``motion`` argument):

* :func:`dominant_velocities` — the ``k`` strongest global motions of a clip, in pixels
  per frame, from the phase correlation of consecutive frames summed over the clip
  (the surface of a two-layer blend peaks at both layers' velocities), with a
  parabolic sub-pixel fit;
* :func:`compensated_averages` — for each velocity, every frame shifted onto every other
  and averaged (only where a shifted frame has pixels), the layer moving at that
  velocity kept sharp.

It assumes each layer translates at a constant velocity over the clip; zoom, rotation
and sprites with their own paths break that, and the network has to learn how far to
trust the channels. Shape: ``(B, 3, T, H, W)`` → ``(B, k, 2)`` and ``(B, k, 3, T, H, W)``.

The global velocities are often wrong where it matters: on held-out blends of the
gentle generator (docs/motion.md) both layers' velocities are found within 0.5 px per
frame in only 32 % of blends — the second peak is often not the other layer's, and
the layers zoom, turn and accelerate. :func:`velocity_bank` drops the estimate: the clip
averaged along *every* velocity of a fixed grid (:func:`bank_speeds`), so that a network
can choose per pixel which one holds a layer — a local, learned choice instead of a
global guess (``centrifuge_small``'s ``bank`` argument).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _hann(n: int, device) -> torch.Tensor:
    return torch.hann_window(n, periodic=False, device=device)


def dominant_velocities(video: torch.Tensor, k: int = 2) -> torch.Tensor:
    """``(B, k, 2)`` velocities (dy, dx) in pixels per frame, strongest first."""
    grey = video.float().mean(1)  # (B, T, H, W)
    b, t, h, w = grey.shape
    if t < 2:
        return grey.new_zeros(b, k, 2)
    grey = grey - grey.mean((-2, -1), keepdim=True)
    window = _hann(h, grey.device)[:, None] * _hann(w, grey.device)[None]
    spectrum = torch.fft.fft2(grey * window)
    cross = spectrum[:, 1:] * spectrum[:, :-1].conj()
    surface = torch.fft.ifft2(cross / (cross.abs() + 1e-6)).real.mean(1)  # (B, H, W)
    out = grey.new_zeros(b, k, 2)
    work = surface.clone()
    for i in range(k):
        peak = work.flatten(1).argmax(1)
        py, px = peak // w, peak % w
        for j in range(b):
            y, x = int(py[j]), int(px[j])
            out[j, i, 0] = _signed(y, h) + _subpixel(surface[j, :, x], y)
            out[j, i, 1] = _signed(x, w) + _subpixel(surface[j, y, :], x)
            # the next motion is another peak: clear this one's 3×3 neighbourhood
            rows = torch.arange(y - 1, y + 2, device=grey.device) % h
            cols = torch.arange(x - 1, x + 2, device=grey.device) % w
            work[j, rows[:, None], cols[None]] = float("-inf")
    return out


def _signed(i: int, n: int) -> int:
    return (i + n // 2) % n - n // 2


def _subpixel(line: torch.Tensor, i: int) -> float:
    """Offset of the parabola's vertex through the peak and its two (cyclic) neighbours."""
    n = len(line)
    return parabola_vertex(float(line[(i - 1) % n]), float(line[i]), float(line[(i + 1) % n]))


def parabola_vertex(left, mid, right) -> float:
    """Where, within ±½ of the middle sample, the parabola through three samples of a peak
    has its vertex (0 where they make no maximum): a sub-pixel peak position. Computed in
    the samples' own precision (Python floats, or float32 tensor elements)."""
    curve = float(left - 2 * mid + right)
    if curve >= 0:  # not a maximum of a parabola: keep the integer peak
        return 0.0
    return max(-0.5, min(0.5, 0.5 * float(left - right) / curve))


def _shift(frames: torch.Tensor, shift: torch.Tensor, padding: str) -> torch.Tensor:
    """``frames`` (N, C, H, W) moved by ``shift`` (N, 2) pixels (dy, dx), bilinear."""
    n, _, h, w = frames.shape
    ys = (torch.arange(h, device=frames.device, dtype=frames.dtype) + 0.5) * 2 / h - 1
    xs = (torch.arange(w, device=frames.device, dtype=frames.dtype) + 0.5) * 2 / w - 1
    gy = ys.view(1, h, 1) - shift[:, 0].view(n, 1, 1) * 2 / h
    gx = xs.view(1, 1, w) - shift[:, 1].view(n, 1, 1) * 2 / w
    grid = torch.stack([gx.expand(n, h, w), gy.expand(n, h, w)], -1)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode=padding,
                         align_corners=False)


def compensated_averages(video: torch.Tensor, velocities: torch.Tensor) -> torch.Tensor:
    """``(B, k, 3, T, H, W)``: for each velocity, the clip averaged along that motion."""
    video = video.float()
    b, c, t, h, w = video.shape
    k = velocities.shape[1]
    frames = video.permute(0, 2, 1, 3, 4)  # (B, T, C, H, W)
    steps = torch.arange(t, device=video.device, dtype=video.dtype)
    # the frames and a channel of ones: shifted together, it counts who covers a pixel
    stack = torch.cat([frames.reshape(b * t, c, h, w),
                       torch.ones(b * t, 1, h, w, device=video.device)], 1)
    out = []
    for i in range(k):
        v = velocities[:, i].to(video.dtype)  # (B, 2)
        back = -(steps.view(1, t, 1) * v.view(b, 1, 2)).reshape(b * t, 2)
        # every frame onto frame 0, each pixel averaged over the frames that cover it
        moved = _shift(stack, back, "zeros").view(b, t, c + 1, h, w).sum(1)
        first = moved[:, :c] / moved[:, c:].clamp_min(1e-3)  # (B, C, H, W)
        # then back along the motion to every frame
        again = _shift(first.repeat_interleave(t, 0), -back, "border").view(b, t, c, h, w)
        out.append(again.permute(0, 2, 1, 3, 4))
    return torch.stack(out, 1)


def motion_channels(video: torch.Tensor, k: int) -> torch.Tensor:
    """``(B, 3k, T, H, W)`` compensated averages of the ``k`` dominant motions (no grad)."""
    with torch.no_grad(), torch.autocast(video.device.type, enabled=False):
        averages = compensated_averages(video, dominant_velocities(video, k))
    b, _, c, t, h, w = averages.shape
    return averages.reshape(b, k * c, t, h, w)


def bank_speeds(radius: int) -> list[int]:
    """Speeds of the bank's grid along each axis: 0, ±1, ±2, ±4 … up to ``radius``
    (pixels per frame; coarser where fast, where a pixel more matters less)."""
    speeds, step = [0], 1
    while step <= radius:
        speeds += [-step, step]
        step *= 2
    return sorted(speeds)


def velocity_bank(video: torch.Tensor, radius: int) -> torch.Tensor:
    """``(B, K, 3, T, H, W)``: the clip averaged along each velocity (dy, dx) of the grid
    ``bank_speeds(radius)²`` (K velocities, row-major, the still one included; no grad).

    The same as :func:`compensated_averages` on that grid, but the shifts are whole
    pixels: slices of a padded copy instead of interpolation (≈ 5× faster; the bank is
    computed for every training blend)."""
    speeds = bank_speeds(radius)
    with torch.no_grad(), torch.autocast(video.device.type, enabled=False):
        video = video.float()
        b, c, t, h, w = video.shape
        pad = radius * (t - 1)
        # the frames and a channel of ones (who covers a pixel), zero outside
        stack = torch.cat([video, video.new_ones(1, 1, t, h, w).expand(b, 1, t, h, w)], 1)
        stack = F.pad(stack, (pad, pad, pad, pad))
        out = []
        for dy in speeds:
            for dx in speeds:
                # every frame onto frame 0: frame t at x + t·v
                total = sum(stack[:, :, i, pad + dy * i:pad + dy * i + h,
                                  pad + dx * i:pad + dx * i + w] for i in range(t))
                first = total[:, :c] / total[:, c:].clamp_min(1e-3)
                # back along the motion: frame t at x is frame 0 at x − t·v (edges held)
                held = F.pad(first, (pad, pad, pad, pad), mode="replicate")
                out.append(torch.stack([held[:, :, pad - dy * i:pad - dy * i + h,
                                             pad - dx * i:pad - dx * i + w]
                                        for i in range(t)], 2))
        return torch.stack(out, 1)
