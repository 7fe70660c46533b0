"""Each layer's residual flow (ops/residual_flow.py): what its homography does not follow,
added to its warp before the layers are solved once more (``motion-layers``' ``flow``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from centrifuge.evaluate.blends import psnr
from centrifuge.methods import create_method
from centrifuge.ops.layer_solve import make_canvas
from centrifuge.ops.residual_flow import alone, moved_canvas
from test_motion_layers import S, T, _centred, _two_rigid_layers


def _swaying(clip: torch.Tensor, px: float = 1.5) -> torch.Tensor:
    """``clip`` ``(3, T, S, S)`` bent by a smooth warp of up to ``px`` that changes over
    time: content that moves on its own, which no homography follows."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, S), torch.linspace(-1, 1, S), indexing="ij")
    grids = []
    for t in range(T):
        amp = px * 2 / (S - 1) * math.sin(t / 2.5)
        grids.append(torch.stack([xs + amp * torch.sin(math.pi * ys),
                                  ys + amp * torch.cos(math.pi * xs)], -1))
    out = F.grid_sample(clip.permute(1, 0, 2, 3), torch.stack(grids), mode="bilinear",
                        padding_mode="border", align_corners=True)
    return out.permute(1, 0, 2, 3)


def _best_psnrs(out: torch.Tensor, layers) -> list[float]:
    return [max(float(psnr(_centred(o), _centred(x))) for o in out) for x in layers]


def test_a_layer_that_sways_on_its_own_is_recovered_better_with_its_flow():
    a, b, _ = _two_rigid_layers()
    a = _swaying(a)
    mix = 0.5 * (a + b)
    rigid = _best_psnrs(create_method("motion_layers", flow=False).separate_clip(mix), (a, b))
    flowed = _best_psnrs(create_method("motion_layers").separate_clip(mix), (a, b))
    # measured 25.4 / 25.6 dB rigid, 27.3 / 27.4 with the flow's three warm rounds (26.9
    # in one warm round of a third of the iterations, 27.9 in one full cold solve)
    for r, f in zip(rigid, flowed, strict=True):
        assert f > r + 1.0, (rigid, flowed)


def test_moving_the_grids_by_no_flow_changes_nothing_and_by_a_pixel_reads_the_next():
    _, _, motions = _two_rigid_layers()
    canvas = make_canvas(motions, (S, S))
    k, t, h, w, _ = canvas.grids.shape
    still = moved_canvas(canvas, torch.zeros(k, t, h, w, 2))
    assert torch.allclose(still.grids, canvas.grids, atol=1e-5)
    right = moved_canvas(canvas, torch.tensor([1.0, 0.0]).expand(k, t, h, w, 2))
    # a homography's grid is smooth: one pixel right reads the grid of the next column
    assert torch.allclose(right.grids[..., :-1, :], canvas.grids[..., 1:, :], atol=1e-4)


def test_a_layer_alone_is_the_clip_less_the_others():
    a, b, _ = _two_rigid_layers()
    seen = torch.stack([a, b])
    assert torch.allclose(alone(0.5 * (a + b), seen, 0, "average"), a, atol=1e-6)
    light = (a ** 2.2 * 0.5 + b ** 2.2 * 0.5) ** (1 / 2.2)
    shown = torch.stack([0.5 * a ** 2.2, 0.5 * b ** 2.2])  # each layer's own light
    # (float32 powers near black: up to 3e-4 apart)
    assert torch.allclose(alone(light, shown, 1, "add"), (0.5 * b ** 2.2) ** (1 / 2.2),
                          atol=1e-3)
    assert not torch.allclose(alone(light, shown, 0, "add"), (0.5 * b ** 2.2) ** (1 / 2.2),
                              atol=1e-3)
