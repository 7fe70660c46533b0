"""The told answers of centrifuge.evaluate.ceilings: exact where what they are told is the
whole truth, and the hole filling they rely on."""

import torch

from centrifuge.evaluate.baselines import baseline_losses
from centrifuge.evaluate.ceilings import (
    CEILINGS,
    _median_colour,
    fill_holes,
    told_blurs,
    told_colours,
    told_edges,
    told_mask,
    told_mask_and_background,
)
from centrifuge.losses import pit_loss


def rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_fill_holes_keeps_known_pixels_and_fills_from_the_nearer_side():
    x = torch.zeros(1, 3, 2, 32, 32)
    x[..., :16] = torch.tensor([1.0, 0.0, 0.0])[:, None, None, None]   # red left half
    x[..., 16:] = torch.tensor([0.0, 0.0, 1.0])[:, None, None, None]   # blue right half
    known = torch.ones(1, 1, 2, 32, 32)
    known[..., 10:20, 4:12] = 0           # a hole inside the red half
    scrambled = torch.where(known.bool(), x, rand(*x.shape))
    out = fill_holes(scrambled, known)
    assert torch.equal(out[known.expand_as(x).bool()], x[known.expand_as(x).bool()])
    hole = out[..., 10:20, 4:12]
    assert (hole[:, 0] > 0.9).all() and (hole[:, 2] < 0.1).all()   # red, not blue or noise


def test_fill_holes_leaves_a_frame_with_nothing_known():
    x = rand(1, 3, 2, 8, 8)
    known = torch.ones(1, 1, 2, 8, 8)
    known[:, :, 1] = 0
    out = fill_holes(x, known)
    assert torch.equal(out, x)


def test_median_colour_is_the_masked_per_channel_median():
    x = rand(2, 3, 2, 6, 6)
    where = rand(2, 1, 2, 6, 6, seed=1) > 0.5
    got = _median_colour(x, where.float())
    for b in range(2):
        for c in range(3):
            assert got[b, c, 0, 0, 0] == x[b, c][where[b, 0]].median()


def occlusion(flat_v1: bool):
    v2 = rand(1, 3, 4, 24, 24)
    v1 = (torch.full_like(v2, 0.3) if flat_v1 else rand(1, 3, 4, 24, 24, seed=2))
    alpha = torch.zeros(1, 1, 4, 24, 24)
    alpha[..., 6:14, 8:16] = 1
    mix = alpha * v1 + (1 - alpha) * v2
    return mix, torch.stack([v1, v2], 1), alpha


def test_told_mask_recovers_a_flat_occluder_whole_and_the_background_outside_it():
    mix, targets, alpha = occlusion(flat_v1=True)
    out = told_mask(mix, targets, alpha)
    assert torch.allclose(out[:, 0], targets[:, 0])                       # flat V¹: exact
    outside = (alpha == 0).expand_as(mix)
    assert torch.equal(out[:, 1][outside], targets[:, 1][outside])
    assert pit_loss(out, targets).per_sample < baseline_losses(mix, targets)["grey"]


def test_told_background_is_exact_for_v2_and_does_not_touch_v1s_visible_part():
    mix, targets, alpha = occlusion(flat_v1=False)
    out = told_mask_and_background(mix, targets, alpha)
    assert torch.equal(out[:, 1], targets[:, 1])
    inside = (alpha == 1).expand_as(mix)
    assert torch.equal(out[:, 0][inside], targets[:, 0][inside])


def test_told_colours_and_blurs_are_exact_when_that_is_all_the_layers_differ_by():
    texture = rand(1, 3, 3, 20, 20)
    cast = torch.tensor([0.2, -0.1, 0.05])[None, :, None, None, None]
    targets = torch.stack([texture + cast, texture - cast], 1)
    mix = targets.mean(1)
    assert pit_loss(told_colours(mix, targets, None), targets).per_sample < 1e-6
    texture = rand(1, 3, 3, 48, 64)
    ramp = torch.linspace(-0.2, 0.2, 64).expand(1, 3, 3, 48, 64)  # low frequencies only
    targets = torch.stack([texture + ramp, texture - ramp], 1)
    mix = targets.mean(1)
    blurs = pit_loss(told_blurs(mix, targets, None), targets).per_sample
    colours = pit_loss(told_colours(mix, targets, None), targets).per_sample
    assert blurs < 0.25 * colours   # a flat cast cannot follow the ramp; the blurs do


def test_every_ceiling_returns_two_layers_of_the_mix_shape():
    mix, targets, alpha = occlusion(flat_v1=False)
    for fns in CEILINGS.values():
        for name, fn in fns.items():
            assert fn(mix, targets, alpha).shape == targets.shape, name


def test_told_edges_hands_each_edge_to_its_stronger_owner():
    """Layer 1 varies along y only, layer 2 along x only: told the owners, each layer
    comes back up to its mean colour — swapped owners would swap nothing back."""
    y, x = torch.meshgrid(torch.linspace(0, 6, 24), torch.linspace(0, 9, 30), indexing="ij")
    v1 = (0.5 + 0.4 * torch.sin(y))[None, None].expand(3, 2, -1, -1)
    v2 = (0.5 + 0.3 * torch.cos(x))[None, None].expand(3, 2, -1, -1)
    targets = torch.stack([v1, v2])[None]
    out = told_edges(targets.mean(1), targets, None)
    centred = out - out.mean((-2, -1), keepdim=True)
    assert (centred - (targets - targets.mean((-2, -1), keepdim=True))).abs().max() < 1e-4
