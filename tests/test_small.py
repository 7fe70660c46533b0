"""centrifuge_small (models/small.py): starts at Identity, re-composes its input by
construction, runs at any size, and learns."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from centrifuge.data.pairs import BlendConfig, BlendedPairs, stack_targets
from centrifuge.data.synthetic import SyntheticSampler
from centrifuge.data.textures import TextureBank, procedural_textures, skimage_stills
from centrifuge.errors import ConfigError
from centrifuge.losses import pit_loss
from centrifuge.models import create_model

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
    for head in ("mask", "residual"):
        model = create_model("centrifuge_small", head=head, n_outputs=3, **SMALL)
        x = torch.rand(2, 3, 5, 20, 28)
        assert torch.allclose(model(x), x[:, None].expand(-1, 3, -1, -1, -1, -1), atol=1e-6)


@pytest.mark.parametrize("n", [2, 4])
def test_consistent_mask_head_outputs_recompose_the_input(n):
    """consistent=True: Σᵢ Oⁱ / n = V whatever the weights (mixture consistency)."""
    model = _perturbed(create_model("centrifuge_small", n_outputs=n, consistent=True,
                                    **SMALL)).eval()
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
                         ({"head": "residual", "consistent": True}, "head=mask only"),
                         ({"widths": [8, 10], "groups": 4}, "divisible by groups"),
                         ({"widths": []}, "1 to 6 levels"),
                         ({"n_outputs": 0}, "n_outputs")):
        with pytest.raises(ConfigError, match=message) as e:
            create_model("centrifuge_small", **bad)
        assert "\n" not in str(e.value)


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
