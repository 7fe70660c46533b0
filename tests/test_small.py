"""centrifuge_small (models/small.py): starts at Identity, re-composes its input by
construction, runs at any size, and learns."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import default_collate

from centrifuge.data.pairs import BlendConfig, BlendedPairs, stack_targets
from centrifuge.data.synthetic import SyntheticSampler
from centrifuge.data.textures import TextureBank, procedural_textures, skimage_stills
from centrifuge.errors import ConfigError
from centrifuge.losses import edge_owner_loss, pit_loss
from centrifuge.models import create_model
from centrifuge.models.small import edge_layers
from centrifuge.ops.poisson import gradients, mirror, mirror_edges

SMALL = {"widths": [8, 16, 32], "groups": 4}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _perturbed(model):
    """The head starts at zero (Identity); give it weights so outputs differ."""
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    return model


def test_starts_at_identity_for_every_head():
    for head in ("mask", "residual", "edges"):
        model = create_model("centrifuge_small", head=head, n_outputs=3, **SMALL)
        x = torch.rand(2, 3, 5, 20, 28)
        assert torch.allclose(model(x), x[:, None].expand(-1, 3, -1, -1, -1, -1), atol=1e-6)


@pytest.mark.parametrize("n,head", [(2, "mask"), (4, "mask"), (2, "edges"), (3, "edges")])
def test_consistent_heads_outputs_recompose_the_input(n, head):
    """consistent=True: Σᵢ Oⁱ / n = V whatever the weights (mixture consistency)."""
    model = _perturbed(create_model("centrifuge_small", n_outputs=n, consistent=True,
                                    head=head, **SMALL)).eval()
    x = torch.rand(2, 3, 4, 24, 24)
    with torch.no_grad():
        out = model(x)
    assert (out - x[:, None]).abs().mean() > 0.05  # the layers really differ from V
    assert torch.allclose(out.mean(1), x, atol=1e-5)
    for free in (create_model("centrifuge_small", **SMALL),
                 create_model("centrifuge_small", head="residual", **SMALL)):
        with torch.no_grad():
            assert not torch.allclose(_perturbed(free).eval()(x).mean(1), x, atol=1e-3)


def test_the_free_mask_head_can_restore_an_occluded_layer():
    """Occlusion: where V¹ covers V², the input is V¹ and V² is not in it. The free head
    can output V¹ there and anything for V²; the consistent one cannot (O² = 2V − O¹)."""
    torch.manual_seed(1)
    v1, hidden = torch.rand(1, 3, 2, 16, 16), torch.rand(1, 3, 2, 16, 16)
    targets = torch.stack([v1, hidden], 1)
    for consistent, reachable in ((False, True), (True, False)):
        model = create_model("centrifuge_small", consistent=consistent, **SMALL)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(60):
            loss = pit_loss(model(v1), targets).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        identity = pit_loss(torch.stack([v1, v1], 1), targets).loss.item()
        assert (loss.item() < 0.8 * identity) == reachable, (consistent, loss.item(), identity)


def test_runs_at_any_size():
    """Fully convolutional with GroupNorm (no running statistics tied to a clip size):
    trained at 8×64², it runs at other sizes; odd sizes are padded and cropped back."""
    model = _perturbed(create_model("centrifuge_small", **SMALL)).eval()
    for t, h, w in [(8, 64, 64), (3, 37, 50), (16, 112, 112)]:
        x = torch.rand(1, 3, t, h, w)
        with torch.no_grad():
            assert model(x).shape == (1, 2, 3, t, h, w)
    assert model.multiple == (1, 4, 4)


def test_config_errors_are_one_line():
    for bad, message in (({"head": "soft"}, "head must be one of"),
                         ({"head": "residual", "consistent": True}, "mask or edges only"),
                         ({"widths": [8, 10], "groups": 4}, "divisible by groups"),
                         ({"widths": []}, "1 to 6 levels"),
                         ({"n_outputs": 0}, "n_outputs")):
        with pytest.raises(ConfigError, match=message) as e:
            create_model("centrifuge_small", **bad)
        assert "\n" not in str(e.value)


@pytest.mark.slow
def test_a_tiny_model_overfits_four_blends():
    """Training learns: every weight on 4 fixed procedural α = ½ blends goes below half
    the Identity loss in a few seconds (the mixture-consistent head included)."""
    bank = TextureBank.from_images(skimage_stills(64) + procedural_textures(4, 64))
    data = BlendedPairs(SyntheticSampler(bank, frames=4, crop=32), 8, seed=0,
                        blend=BlendConfig(alpha=0.5))
    batch = default_collate([data[i] for i in range(4)])
    mix, targets = batch["mix"], stack_targets(batch)
    model = create_model("centrifuge_small", **SMALL)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    identity = pit_loss(torch.stack([mix, mix], 1), targets).loss.item()
    for _ in range(80):
        loss = pit_loss(model(mix), targets).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert pit_loss(model(mix), targets).loss.item() < 0.5 * identity


def test_edge_layers_split_a_blend_whose_layers_own_different_edges():
    """Told its owners, the edge head's integral returns each layer (up to its mean):
    here layer 1 varies along y only and layer 2 along x only, so every y edge of the
    blend is layer 1's and every x edge layer 2's."""
    y, x = torch.meshgrid(torch.linspace(0, 6, 24), torch.linspace(0, 9, 30), indexing="ij")
    v1 = (0.5 + 0.4 * torch.sin(y))[None, None].expand(3, 2, -1, -1)
    v2 = (0.5 + 0.4 * torch.cos(x + 0.3))[None, None].expand(3, 2, -1, -1) * 0.9
    targets = torch.stack([v1, v2])[None]
    mix = targets.mean(1)
    first = torch.cat([torch.zeros(1, 3, 2, 24, 30), torch.ones(1, 3, 2, 24, 30)], 1)
    out = edge_layers(mix, torch.stack([first, 1 - first], 1))
    centred = out - out.mean((-2, -1), keepdim=True)
    truth = targets - targets.mean((-2, -1), keepdim=True)
    assert (centred - truth).abs().max() < 1e-4
    assert torch.allclose(out.mean(1), mix, atol=1e-5)   # the two still average to V
    swapped = edge_layers(mix, torch.stack([1 - first, first], 1))
    assert (swapped - swapped.mean((-2, -1), keepdim=True) - truth.flip(1)).abs().max() < 1e-4


def test_mirror_edges_pairs_each_edge_with_its_own_value():
    """In the mirrored frame each edge of the original appears again (reflected); its
    owner must travel with it: |∇ mirror(V)| = mirror_edges(|∇V|) wherever the original's
    difference is a real edge (not the wrap-around of the periodic difference)."""
    v = torch.rand(2, 3, 5, 7)
    gx, gy = gradients(v)
    mx, my = gradients(mirror(v))
    ex, ey = mirror_edges(gx.abs(), gy.abs())
    realx, realy = torch.ones(5, 7), torch.ones(5, 7)
    realx[:, -1], realy[-1] = 0, 0
    kx, ky = (k.bool() for k in mirror_edges(realx, realy))
    assert torch.equal(ex[..., kx], mx.abs()[..., kx])
    assert torch.equal(ey[..., ky], my.abs()[..., ky])
    assert kx.sum() == 4 * 5 * 6 and ky.sum() == 4 * 4 * 7


def _owner_case():
    y, x = torch.meshgrid(torch.linspace(0, 6, 16), torch.linspace(0, 9, 20), indexing="ij")
    v1 = (0.5 + 0.4 * torch.sin(y) + 0.05 * torch.rand(16, 20))[None, None].expand(3, 2, -1, -1)
    v2 = (0.5 + 0.3 * torch.cos(x))[None, None].expand(3, 2, -1, -1)
    targets = torch.stack([v1, v2])[None].clone()
    targets[..., :6] = 0.4   # a flat strip: no edge of the blend to own there
    (ax, ay), (bx, by) = gradients(targets[:, 0]), gradients(targets[:, 1])
    first = torch.cat([ax.abs() > bx.abs(), ay.abs() > by.abs()], dim=1).float()
    return targets.mean(1), targets, first


def test_edge_owner_loss_rewards_the_true_owners_in_either_order():
    mix, targets, first = _owner_case()
    sure = 20 * (torch.stack([first, 1 - first], 1) - 0.5)     # confident, correct logits
    assert edge_owner_loss(sure, mix, targets) < 1e-3
    assert edge_owner_loss(sure.flip(1), mix, targets) < 1e-3  # the layers have no order
    wrong_where_flat = sure.clone()
    wrong_where_flat[..., :5] = -wrong_where_flat[..., :5]     # edges count by strength
    assert edge_owner_loss(wrong_where_flat, mix, targets) < 1e-3
    undecided = torch.zeros_like(sure)
    assert abs(edge_owner_loss(undecided, mix, targets).item() - math.log(2)) < 1e-5
    # right on x edges, wrong on y edges: no labelling fits, much worse than undecided
    half = torch.cat([sure[:, :, :3], sure.flip(1)[:, :, 3:]], dim=2)
    assert edge_owner_loss(half, mix, targets) > 2 * math.log(2)
    with pytest.raises(ValueError, match="two layers"):
        edge_owner_loss(torch.zeros(1, 3, 6, 2, 16, 20), mix, targets)


def test_the_edge_head_reports_its_owner_logits():
    model = _perturbed(create_model("centrifuge_small", head="edges", **SMALL)).eval()
    x = torch.rand(1, 3, 2, 18, 22)   # padded to 20×24 inside, cropped back
    with torch.no_grad():
        out = model.forward_dict(x)
        assert torch.equal(out["outputs"], model(x))
    assert out["owners"].shape == (1, 2, 6, 2, 18, 22)
    assert "owners" not in create_model("centrifuge_small", **SMALL).forward_dict(x)
