"""An opaque occluder over a scene, from their two motions: the scene, the occluder and its
matte (not in the papers; the idea of Xue et al., SIGGRAPH 2015, solved here per pixel by
warps and reductions over frames rather than by their joint optimisation).

A fence, drops or dirt on a window, a railing: the frame is

    I_t = α_t O_t + (1 − α_t) S_t

with the scene S rigid on its canvas (its motion), the occluder O and its matte α rigid
on theirs (the occluder's motion). When the two motions differ, every scene point is
uncovered in some frames and every occluder pixel lies over changing scene, so:

1. **The scene** starts as the per-pixel median of the frames carried onto its canvas
   (right wherever the occluder covers a point in under half the frames).
2. **The matte and the occluder**, on the occluder's canvas, from the frames and the
   scene as they fall there: a pixel of the occluder holds still there (its frames keep
   its colour, their median) while a pixel of the scene follows the scene; α is a soft
   step on which of the two fits the frames better (mean absolute misfit over frames),
   asking the occluder to fit clearly better and to hold within a few per cent of one
   colour — where both fit (a flat wall), the pixel is scene. (A closed-form α from
   ``I − S = α (O − S)``, ``1 − cov(S, I) / var(S)``, was exact on synthetic scenes but
   took every flat or not-quite-rigid part of a real one for occluder; it now only
   grades the matte handed back within a pixel of the step's occluder, :func:`_graded`.)
3. **The scene again**, each frame's from the frames *near it in time* where the matte
   is clear (weights halving every :data:`NEAR` frames: a real scene is not rigid — a
   face talks, the light changes — and the nearest clear view is the best guess of how a
   point looks now); least squares given α and O, ``Σ (1 − α)(I − αO) / Σ (1 − α)²``,
   where no frame is clear; the median where nothing is known.

Steps 2–3 repeat (``rounds``). The scene handed back is the clip itself wherever the
matte is clear (sharper than a canvas seen through a warp) and the solve where it is
not. Everything is a warp (``grid_sample``) or a per-pixel reduction over frames: no
per-pixel Python.

Shapes: clip ``(3, T, H, W)`` in [0, 1]; motions ``(T, 3, 3)`` (frame t → reference frame,
as :mod:`centrifuge.ops.layer_solve`); outputs ``(3, T, H, W)`` / matte ``(1, T, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from centrifuge.ops.homography import sampling_grid
from centrifuge.ops.layer_solve import Canvas, make_canvas, see

# Chosen on the train split (24 moving-occluder blends, 32×64², the scene's ratio to the
# blend / the matte's IoU, motions estimated): margin 0.02 → 0.04 took 0.76 / 0.54 to
# 0.61 / 0.57; a sharper step (SURE 0.01 → 0.005) and a full canvas fill from a matte of
# 0.3 (not 0.05) 0.54 / 0.57; hold 0.05 (not 0.04) 0.54 / 0.61. Pooling each pixel's
# misfits with its 3×3 neighbours' cost IoU (0.44) and was dropped. (Those blends held the
# three rigid kinds. With the supervoxels kind, told the motions, on train: HOLD 0.1 or
# 0.2 lost on every kind; a hold measured between frames 4 apart tied — blobs 0.61 →
# 0.58, supervoxels 0.73 → 0.75 — and 1 apart lost badly.)
# The difference of the two misfits (mean |·| over frames and colour) over which a pixel
# goes from scene to occluder:
SURE = 0.005
# an occluder holds still: its frames keep within about this of one colour ...
HOLD = 0.05
# ... and fit it better than the scene by this much: where both fit (a flat wall, hair
# along the motion) the pixel is scene — the clip itself, not a canvas seen through a warp
MARGIN = 0.04
# At this much matte (within a pixel of it) and above, a pixel's scene comes wholly from
# the canvas; below, a blend of the clip and the canvas.
COVERED = 0.3
FAINT = 0.02
# Frames where the matte is under this are the scene's: they fill it.
CLEAR = 0.1
# A clear frame this many frames away weighs half as much in a frame's scene.
NEAR = 4.0
# Finer passes of the occluder's shift search (see nudged_motion; train, 24 blends: none
# 0.446 / IoU 0.658, one 0.425 / 0.696, two 0.445 / 0.660)
FINE = 1
# The scene behind a pixel must vary over the frames by this (variance, summed over colour)
# for the least-squares α of :func:`_graded` (only a guard: 0 and 1e-4 tie on train; 1e-3
# and up lose IoU)
VARIES = 1e-4


@dataclass
class Occlusion:
    """What :func:`solve_occlusion` finds, as the frames show it: the scene ``(3, T, H, W)``
    (the clip where it shows the scene, the solve where the occluder covers it), the
    occluder over black (``α O``), the matte ``(1, T, H, W)``, the clip they remake
    (``remade``), ``seen`` — the share of pixels × frames whose scene point some frame
    shows — and what :func:`nudged_motion` refines the occluder's motion from."""

    scene: torch.Tensor
    occluder: torch.Tensor
    matte: torch.Tensor
    remade: torch.Tensor
    seen: torch.Tensor
    behind: torch.Tensor | None = None  # the scene solve as every frame shows it, covered or not
    layer: torch.Tensor | None = None  # α and O on the occluder's canvas (4, Hc, Wc)
    canvas: Canvas | None = None  # the occluder's canvas


def onto(video: torch.Tensor, canvas: Canvas) -> tuple[torch.Tensor, torch.Tensor]:
    """The frames of ``video`` ``(C, T, H, W)`` carried onto ``canvas``'s (single) layer:
    ``(T, C, Hc, Wc)``, and where each frame covers the canvas ``(T, 1, Hc, Wc)`` (bool)."""
    c, t, h, w = video.shape
    back = torch.linalg.inv(canvas.to_canvas[0])  # canvas pixel → frame pixel
    grid = sampling_grid(back, canvas.size, (h, w), torch.float32)
    frames = torch.cat([video.permute(1, 0, 2, 3).float(), torch.ones(t, 1, h, w)], 1)
    out = F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=True)
    return out[:, :c], out[:, c:] > 0.999


def _masked_median(x: torch.Tensor, valid: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Median over frames (dim 0) of ``x`` ``(T, C, ...)`` where ``valid``; ``fallback``
    where no frame is."""
    med = torch.nanmedian(torch.where(valid, x, torch.nan), dim=0).values
    return torch.where(torch.isnan(med), fallback, med)


def _matte(frames, scene, valid):
    """α ``(1, Hc, Wc)``, O ``(3, Hc, Wc)`` and the graded α (:func:`_graded`) on the
    occluder's canvas from the frames and the scene as they fall there, ``(T, 3, Hc, Wc)``
    each (module doc, step 2): per pixel, whether the frames there hold still (the
    occluder: they stay its colour, the median) or follow the scene, each by its mean
    absolute misfit over the frames."""
    w = valid.float()
    n = w.sum(0).clamp_min(1)
    occ = _masked_median(frames, valid.expand_as(frames), frames.mean(0))
    on_occ = ((frames - occ).abs().mean(1, keepdim=True) * w).sum(0) / n
    on_scene = ((frames - scene).abs().mean(1, keepdim=True) * w).sum(0) / n
    # an occluder holds still (within HOLD of its colour) and fits better than the scene
    alpha = (torch.sigmoid((on_scene - on_occ - MARGIN) / SURE)
             * torch.sigmoid((HOLD - on_occ) / SURE))
    return alpha, occ, _graded(frames, scene, w, n, alpha)


def _graded(frames, scene, w, n, alpha):
    """The matte handed back: within a pixel of where the step of :func:`_matte` says
    occluder, α by least squares from ``I − S = α (O − S)`` over the frames — ``1 −
    cov(S, I) / var(S)`` — which grades an edge the step calls all or nothing (train, 24
    blends, told the motions: IoU 0.755 → 0.797; estimated 0.696 → 0.715). Only the
    output: the scene is still solved with the step, which keeps what the occluder's edge
    touches off the clip (the graded α there cost 0.345 → 0.36–0.40 of the scene)."""
    ms, mi = (scene * w).sum(0) / n, (frames * w).sum(0) / n
    cov = (((scene - ms) * (frames - mi)).sum(1, keepdim=True) * w).sum(0) / n
    var = (((scene - ms) ** 2).sum(1, keepdim=True) * w).sum(0) / n
    graded = (1 - cov / var.clamp_min(VARIES)).clamp(0, 1)
    near = (F.max_pool2d(alpha[None], 3, 1, 1)[0] > 0.5) & (var > VARIES)
    return torch.where(near, graded, alpha)


def _scene(video, alpha_t, occ_t, sc: Canvas, scene: torch.Tensor):
    """The scene on its canvas ``(3, Hc, Wc)`` and as each frame shows it ``(3, T, H, W)``
    (module doc, step 3), and how clear the frames over each canvas pixel were
    ``(1, Hc, Wc)``. Each frame's scene comes from the clear frames *near it in time*
    (weights halving every :data:`NEAR` frames): a real scene is not quite rigid — a face
    talks, the light changes — and the nearest clear view of a point is the best guess of
    how it looks now; the whole clip's where no frame near is clear."""
    # the frames where the occluder has moved away (weighted by how clear they are); where
    # none is clear, least squares given α and O: Σ (1 − α)(I − αO) / Σ (1 − α)²
    clear = (1 - alpha_t / CLEAR).clamp(0, 1)
    solid = 1 - alpha_t
    parts, valid = onto(torch.cat([clear * video, clear, solid * (video - alpha_t * occ_t),
                                   solid * solid]), sc)
    parts = parts * valid.float()  # (T, 8, Hc, Wc)
    sums = parts.sum(0)
    num, den = sums[:3], sums[3:4]
    ls_num, ls_den = sums[4:7], sums[7:]
    scene = torch.where(den > 0.05, num / den.clamp_min(0.05),
                        torch.where(ls_den > 0.05, ls_num / ls_den.clamp_min(0.05),
                                    scene)).clamp(0, 1)
    t = video.shape[1]
    steps = torch.arange(t, dtype=torch.float32)
    near = 0.5 ** ((steps[:, None] - steps[None]).abs() / NEAR)  # (T, T)
    local = torch.einsum("st,tchw->schw", near, parts[:, :4])
    local_den = local[:, 3:]
    frames = torch.where(local_den > 0.05, local[:, :3] / local_den.clamp_min(0.05),
                         scene[None])  # (T, 3, Hc, Wc): each frame's own canvas
    seen = F.grid_sample(frames, sc.grids[0], mode="bilinear", padding_mode="border",
                         align_corners=True)
    return scene, seen.permute(1, 0, 2, 3), den


def solve_occlusion(video: torch.Tensor, scene_motion: torch.Tensor,
                    occluder_motion: torch.Tensor, *, rounds: int = 2,
                    matte: torch.Tensor | None = None) -> Occlusion:
    """The scene, the occluder and its matte of ``video`` given both motions (module doc).
    ``matte`` ``(1, T, H, W)``: told the matte (a ceiling), only the scene is solved."""
    video = video.float()
    frame = tuple(video.shape[-2:])
    sc = make_canvas(scene_motion[None], frame)
    oc = make_canvas(occluder_motion[None], frame)
    on_scene, valid_s = onto(video, sc)
    grey = video.mean((1, 2, 3))[:, None, None]
    scene = _masked_median(on_scene, valid_s, grey)
    alpha_t = matte
    occ_t = torch.zeros_like(video)
    scene_t = see(scene[None], sc)[0]  # (3, T, H, W)
    for _ in range(rounds + 1):
        if matte is None:
            on_occ, valid_o = onto(torch.cat([video, scene_t]), oc)
            alpha, occ, graded = _matte(on_occ[:, :3], on_occ[:, 3:], valid_o)
            shown = see(torch.cat([alpha, occ, graded])[None], oc)[0]
            alpha_t, occ_t, graded_t = shown[:1], shown[1:4], shown[4:]
        scene, scene_t, den = _scene(video, alpha_t, occ_t, sc, scene)
    # where a pixel shows the scene now, the clip itself is the scene (sharper than the
    # canvas seen through a warp); what the occluder covers even faintly — an edge of it
    # mixes in its colour — comes from the canvas
    # (under a matte of FAINT nothing of the canvas: the clip, bit for bit)
    cover = ((F.max_pool2d(alpha_t, 3, 1, 1) - FAINT) / (COVERED - FAINT)).clamp(0, 1)
    out = (1 - cover) * video + cover * scene_t
    remade = alpha_t * occ_t + (1 - alpha_t) * scene_t
    seen = (see(den[None].clamp(max=1), sc)[0] > 0.05).float().mean()
    if matte is None:  # the matte handed back grades the occluder's edges (_graded)
        alpha_t = graded_t
    return Occlusion(out.clamp(0, 1), (alpha_t * occ_t).clamp(0, 1), alpha_t.clamp(0, 1),
                     remade, seen, scene_t,
                     None if matte is not None else torch.cat([alpha, occ]), oc)


def _shifts(reach: float, step: float) -> torch.Tensor:
    """``(D, 3, 3)`` translations on a ``step`` grid within ``reach`` px."""
    offsets = torch.arange(-reach, reach + step / 2, step, dtype=torch.float64)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    shifts = torch.eye(3, dtype=torch.float64).repeat(dx.numel(), 1, 1)
    shifts[:, 0, 2], shifts[:, 1, 2] = dx.flatten(), dy.flatten()
    return shifts


def nudged_motion(video: torch.Tensor, found: Occlusion, motion: torch.Tensor, *,
                  reach: float = 1.0, step: float = 0.25, fine: int = FINE) -> torch.Tensor:
    """The occluder's ``motion`` ``(T, 3, 3)`` — the one ``found`` was solved with — with
    each frame nudged (a shift within ``reach`` px, on a ``step`` grid, then ``fine`` times
    on a grid four times finer around the best) to where its matte and colour, over the
    scene found, remake that frame best (mean absolute error). Feature tracks barely hold
    on a thin fence — its few corners sit among the scene's — while the remade frame weighs
    every pixel of it; a fence's motion half a pixel off leaves its edges in the scene."""
    if found.layer is None:
        return motion
    t, (h, w) = video.shape[1], video.shape[-2:]
    to_canvas = found.canvas.to_canvas[0] @ torch.linalg.inv(motion.double())  # ref → canvas
    out = motion.double().clone()
    for i in range(t):
        best = motion[i].double()
        for level in range(fine + 1):
            shifts = _shifts(reach / 4**level, step / 4**level)
            grid = sampling_grid(to_canvas[i] @ best @ shifts, (h, w), found.canvas.size,
                                 torch.float32, fast=True)  # most of the method's time
            layer = found.layer[None].expand(len(shifts), -1, -1, -1)
            seen = F.grid_sample(layer, grid, mode="bilinear", padding_mode="border",
                                 align_corners=True)  # (D, 4, H, W)
            alpha, occ = seen[:, :1], seen[:, 1:]
            remade = alpha * occ + (1 - alpha) * found.behind[:, i][None]
            err = (remade - video[:, i][None]).abs().mean((1, 2, 3))
            best = best @ shifts[int(err.argmin())]
        out[i] = best
    return out
