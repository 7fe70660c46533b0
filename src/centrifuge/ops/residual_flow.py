"""What a layer's homography does not follow — a face that talks, a hand-held original's
own sway — as a dense residual flow per layer and frame, added to its warp (OpenCV DIS).

A rigid layer on a canvas follows one homography per frame; real content also moves on
its own, and the joint solve then smears it over the canvas and leaves it in the other
layer. Given a first solve, each layer is seen alone — the clip with the other layer's
estimate taken away — and DIS optical flow (Kroeger et al., ECCV 2016) from that to the
layer as the canvas shows it gives, per frame pixel, where the canvas should have been
sampled. The layer's sampling grid is moved by that flow, lightly smoothed (σ
:data:`SIGMA` px), and the layers are solved again on the moved grids
(:func:`~centrifuge.ops.layer_solve.solve` with ``canvas=``), a few rounds over
(:meth:`~centrifuge.methods.motion_layers.MotionLayers.flowed`).

Chosen on the corpus train split (``python benchmarks/residual_flow.py``: the joint solve
alone, 24 blends per kind, 32×64², the mean of per-blend ratios to Identity): two-motion
0.8727 → 0.8156, camera-fixed 0.7547 → 0.6934, in three rounds, each solved from the last
one's layers with a ninth of the iterations (one round of a third: 0.8278 / 0.7063, as
good as a full solve from the stabilised clip, 0.8280 / 0.7124, in 40 % of its time);
σ 0 / 1 / 2 px alike (0.8271 / 0.8278 / 0.8287 in one round).

Shapes: clip ``(3, T, H, W)``; the layers as the frames show them ``(k, 3, T, H, W)``.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from centrifuge.ops.layer_solve import Canvas
from centrifuge.ops.light import to_display, to_linear
from centrifuge.ops.tracking import to_grey

SIGMA = 1.0  # px: the Gaussian that smooths each flow field (DIS leaves speckle)


def alone(video: torch.Tensor, seen: torch.Tensor, layer: int, model: str) -> torch.Tensor:
    """The clip with every layer but ``layer`` taken away, in display values at that
    layer's own strength: for an overlay (α = 1/k) k·I − Σ others; for light that adds,
    the clip's light less the others'."""
    others = torch.cat([seen[:layer], seen[layer + 1:]])
    if model == "add":
        return to_display(to_linear(video) - others.sum(0))
    return (seen.shape[0] * video - others.sum(0)).clamp(0, 1)


def layer_flows(video: torch.Tensor, seen: torch.Tensor, model: str,
                sigma: float = SIGMA) -> torch.Tensor:
    """Per layer and frame, the flow ``(k, T, H, W, 2)`` (px, (dx, dy)) such that the layer
    alone at ``p`` is the layer as the canvas shows it at ``p + flow(p)``."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    k, _, t, h, w = seen.shape
    out = np.zeros((k, t, h, w, 2), np.float32)
    for i in range(k):
        solo = to_grey(alone(video, seen, i, model))
        shown = to_grey(to_display(seen[i]) if model == "add" else seen[i].clamp(0, 1))
        for f in range(t):
            u = dis.calc(solo[f], shown[f], None)
            out[i, f] = cv2.GaussianBlur(u, (0, 0), sigma) if sigma > 0 else u
    return torch.from_numpy(out)


def moved_canvas(canvas: Canvas, flows: torch.Tensor) -> Canvas:
    """``canvas`` with each layer's per-frame sampling grid moved by ``flows``
    ``(k, T, H, W, 2)``: the grid read at ``p + flow(p)`` (bilinear; the grid of a
    homography is smooth, so reading it between pixels is exact to first order)."""
    k, t, h, w, _ = canvas.grids.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    # frame pixel + flow → the grid's own normalised coordinates (align_corners=True)
    x = (xs + flows[..., 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flows[..., 1]) * (2 / max(h - 1, 1)) - 1
    where = torch.stack([x, y], -1).reshape(k * t, h, w, 2)
    grids = canvas.grids.reshape(k * t, h, w, 2).permute(0, 3, 1, 2)
    moved = F.grid_sample(grids, where, mode="bilinear", padding_mode="border",
                          align_corners=True)
    return Canvas(canvas.size, moved.permute(0, 2, 3, 1).reshape(k, t, h, w, 2),
                  canvas.to_canvas)
