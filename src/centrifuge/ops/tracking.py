"""Each layer's motion in a clip as per-frame similarities, from the blend (OpenCV).

* :func:`clip_velocities` — the ``k`` strongest velocities of a clip: phase correlation of
  frame pairs a few frames apart, summed over the clip (each layer's velocity peaks in
  every pair and adds up; noise does not).
* :func:`guided_motion` — one layer's motion: its velocity carried to the reference (the
  middle frame) guides pyramidal Lucas–Kanade from the reference's corners (Shi–Tomasi)
  into every frame, kept only where tracking back lands within half a pixel (in a blend,
  corners where both layers' edges cross move with neither and fail it), and a
  similarity is fitted to the points that follow the guess with RANSAC — each frame
  against the reference, so errors do not accumulate along a chain. Points of the other
  layer do not follow the guess and fall out as outliers. (A homography is available,
  :data:`MODEL`, fitted with MAGSAC++; on blends its eight degrees of freedom wander.)

Where too few points agree (a blank frame, no texture), a frame keeps its guess.
Frames are ``(T, H, W)`` uint8 grey; motions ``(T, 3, 3)`` float64 (frame t →
reference), the reference's own the identity.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from centrifuge.ops.motion import parabola_vertex

MIN_POINTS = 8
MODEL = "similarity"
# MAGSAC++'s upper bound on an inlier's reprojection error (px)
MAX_ERROR = 1.5


def to_grey(video: torch.Tensor, gain: float = 1.0) -> np.ndarray:
    """``(3, T, H, W)`` in [0, 1] (or any signed image with ``gain``) → ``(T, H, W)`` uint8,
    the luma stretched by ``gain`` about mid-grey for signed input."""
    grey = (0.299 * video[0] + 0.587 * video[1] + 0.114 * video[2]).float()
    if gain != 1.0:
        grey = 0.5 + gain * (grey - grey.mean())
    return (grey.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _corners(frame: np.ndarray, count: int = 500) -> np.ndarray | None:
    h, w = frame.shape
    pts = cv2.goodFeaturesToTrack(frame, maxCorners=count, qualityLevel=0.005,
                                  minDistance=max(3, min(h, w) // 40), blockSize=5)
    return None if pts is None else pts.astype(np.float32)


def _lk(a: np.ndarray, b: np.ndarray, pts: np.ndarray, guess: np.ndarray | None = None):
    """Points ``pts`` of ``a`` tracked into ``b`` (from ``guess`` if given), with the
    forward-backward check: ``(p, q)`` the pairs that pass."""
    win, levels = (21, 21), 4
    flags = 0
    if guess is not None:
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
        guess = guess.astype(np.float32).copy()
    q, st, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, guess, winSize=win, maxLevel=levels,
                                        flags=flags)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, q, pts.copy(), winSize=win,
                                            maxLevel=levels, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm(back - pts, axis=-1)[:, 0] < 0.5)
    return pts[ok, 0], q[ok, 0]


def fit_motion(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """The motion taking points ``p`` ``(N, 2)`` to ``q`` as a 3×3 matrix — a similarity
    (RANSAC), or a homography (MAGSAC++) where :data:`MODEL` says so — and the inlier
    mask; ``None`` where fewer than :data:`MIN_POINTS` agree."""
    if len(p) < MIN_POINTS:
        return None, np.zeros(len(p), bool)
    if MODEL == "similarity":
        a, mask = cv2.estimateAffinePartial2D(p, q, method=cv2.RANSAC,
                                              ransacReprojThreshold=MAX_ERROR, maxIters=2000,
                                              confidence=0.999, refineIters=10)
        h = None if a is None else np.vstack([a, [0, 0, 1]])
    else:
        h, mask = cv2.findHomography(p, q, cv2.USAC_MAGSAC, MAX_ERROR, maxIters=2000,
                                     confidence=0.999)
    if h is None or mask is None or mask.sum() < MIN_POINTS:
        return None, np.zeros(len(p), bool)
    return h, mask[:, 0].astype(bool)


def clip_velocities(frames: np.ndarray, k: int = 2, gap: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` strongest velocities of a whole clip (px per frame, (dx, dy)) and their
    peak heights: the phase-correlation surfaces of every pair ``gap`` frames apart,
    summed. A layer's velocity peaks in every pair and adds up; noise does not, and at a
    gap of several frames two layers' peaks lie that many times further apart."""
    t = len(frames)
    gap = max(1, min(gap, t - 1))
    grey = torch.from_numpy(frames).float()
    grey = grey - grey.mean((-2, -1), keepdim=True)
    _, h, w = grey.shape
    window = torch.hann_window(h, periodic=False)[:, None] * torch.hann_window(w, periodic=False)
    spec = torch.fft.rfft2(grey * window)
    cross = spec[gap:] * spec[:-gap].conj()
    surface = torch.fft.irfft2(cross / (cross.abs() + 1e-3), s=(h, w)).mean(0)
    surface = torch.fft.fftshift(surface)
    pooled = torch.nn.functional.max_pool2d(surface[None, None], 5, 1, 2)[0, 0]
    scores = torch.where(surface == pooled, surface, torch.tensor(-1e9))
    top = torch.topk(scores.flatten(), k)
    vel, height = np.zeros((k, 2)), np.zeros(k)
    for j, (val, idx) in enumerate(zip(top.values, top.indices, strict=True)):
        y, x = divmod(int(idx), w)
        dy = parabola_vertex(surface[(y - 1) % h, x], surface[y, x], surface[(y + 1) % h, x])
        dx = parabola_vertex(surface[y, (x - 1) % w], surface[y, x], surface[y, (x + 1) % w])
        vel[j] = ((x - w // 2 + dx) / gap, (y - h // 2 + dy) / gap)
        height[j] = float(val)
    return vel, height


def guided_motion(frames: np.ndarray, velocity, near: float | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(T, 3, 3)`` motions (frame t → reference) of the layer moving at ``velocity``
    (dx, dy) px per frame, and ``(T,)`` the share of the reference's corners that agree:
    the velocity, carried to the reference (a point of frame t is ``(r − t)·velocity``
    away there), guides Lucas–Kanade from the reference's corners into each frame; points
    of the other layer do not follow the guess and fall out as outliers of the fit.
    ``near`` (px): keep only the points that land within that of the guess — where the
    other layer holds most corners (a thin fence over a textured scene), its points would
    otherwise be the majority the fit follows."""
    r = (len(frames) - 1) // 2
    dx, dy = (float(v) for v in velocity)
    guesses = [np.array([[1, 0, (r - t) * dx], [0, 1, (r - t) * dy], [0, 0, 1.0]])
               for t in range(len(frames))]
    return _against_reference(frames, guesses, r, near)


def _against_reference(frames: np.ndarray, guesses: list[np.ndarray], r: int,
                       near: float | None = None):
    ref_pts = _corners(frames[r])
    motions = [h / h[2, 2] for h in guesses]
    agree = np.zeros(len(frames))
    agree[r] = 1.0
    if ref_pts is None:
        return torch.from_numpy(np.stack(motions)), torch.from_numpy(agree)
    for t in range(len(frames)):
        if t == r:
            continue
        to_t = np.linalg.inv(motions[t])  # reference → frame t
        guess = cv2.perspectiveTransform(ref_pts, to_t)
        p, q = _lk(frames[r], frames[t], ref_pts, guess)
        if near is not None and len(p):
            guessed = cv2.perspectiveTransform(p[:, None], to_t)[:, 0]
            keep = np.linalg.norm(q - guessed, axis=-1) < near
            p, q = p[keep], q[keep]
        h, inliers = fit_motion(q, p)  # frame t → reference
        if h is not None:
            motions[t] = h / h[2, 2]
            agree[t] = inliers.sum() / len(ref_pts)
    return torch.from_numpy(np.stack(motions)), torch.from_numpy(agree)


def aligned_motion(frames: np.ndarray, motions: torch.Tensor) -> torch.Tensor:
    """``motions`` ``(T, 3, 3)`` (frame t → reference) refined by direct alignment: each
    frame's affine warp from the reference that best matches it by enhanced correlation
    (OpenCV ECC), from the current motion; a frame where it does not converge keeps its
    motion. Feature tracks need corners, which a smooth layer barely has; ECC uses every
    pixel. (No mask: OpenCV 5.1's masked ECC ended in NaN on a fence's thin mask.)"""
    r = (len(frames) - 1) // 2
    template = frames[r].astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    out = motions.double().numpy().copy()
    for t in range(len(frames)):
        if t == r:
            continue
        warp = np.linalg.inv(out[t])[:2].astype(np.float32)  # reference → frame t
        try:
            _, warp = cv2.findTransformECC(template, frames[t].astype(np.float32), warp,
                                           cv2.MOTION_AFFINE, criteria, None, 3)
        except cv2.error:
            continue
        out[t] = np.linalg.inv(np.vstack([warp.astype(np.float64), [0, 0, 1]]))
    return torch.from_numpy(out)
