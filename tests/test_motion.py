"""Motion-compensated input channels (ops/motion.py) on blends whose motion is known."""

import pytest
import torch
import torch.nn.functional as F

from centrifuge.errors import ConfigError
from centrifuge.models import create_model
from centrifuge.ops.motion import (
    bank_speeds,
    compensated_averages,
    dominant_velocities,
    velocity_bank,
)

T = 8


def texture(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.rand(1, 3, 96, 96, generator=g), 3, 1, 1)[0]


def moving(image: torch.Tensor, velocity) -> torch.Tensor:
    """(3, T, 64, 64): the image's centre panned by whole pixels per frame."""
    frames = [torch.roll(image, (t * velocity[0], t * velocity[1]), (1, 2)) for t in range(T)]
    return torch.stack(frames, 1)[:, :, 16:80, 16:80]


def corr(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()))


@pytest.fixture(scope="module")
def blend():
    a, b = moving(texture(0), (1, 2)), moving(texture(1), (-2, 1))
    return a, b, ((a + b) / 2)[None]


def test_both_layers_velocities_are_found_in_the_blend(blend):
    _, _, mix = blend
    found = sorted(dominant_velocities(mix, 2)[0].tolist())
    for got, true in zip(found, sorted([[1.0, 2.0], [-2.0, 1.0]]), strict=True):
        assert got == pytest.approx(true, abs=0.15)


def test_the_average_along_a_layers_motion_keeps_that_layer(blend):
    a, b, mix = blend
    averages = compensated_averages(mix, torch.tensor([[[1.0, 2.0], [-2.0, 1.0]]]))[0]
    assert averages.shape == (2, 3, T, 64, 64)
    # the followed layer stays sharp, the other smears: closer to it than the blend is
    assert corr(averages[0], a) > corr(mix[0], a) + 0.05
    assert corr(averages[1], b) > corr(mix[0], b) + 0.05
    assert corr(averages[0], b) < 0.3 and corr(averages[1], a) < 0.3


def test_small_network_with_motion_channels_starts_at_identity_at_any_size():
    model = create_model("centrifuge_small", motion=2)
    for shape in [(2, 3, 8, 64, 64), (1, 3, 5, 40, 56)]:
        video = torch.rand(shape)
        assert torch.equal(model(video), video[:, None].expand(-1, 2, -1, -1, -1, -1))
    with pytest.raises(ConfigError, match="motion must be"):
        create_model("centrifuge_small", motion=9)


def test_bank_speeds_are_fine_where_slow_and_coarse_where_fast():
    assert bank_speeds(0) == [0]
    assert bank_speeds(2) == [-2, -1, 0, 1, 2]
    assert bank_speeds(5) == [-4, -2, -1, 0, 1, 2, 4]


def test_velocity_bank_holds_the_average_along_each_layers_motion(blend):
    a, b, mix = blend
    bank = velocity_bank(mix, 2)[0]  # 25 velocities, (dy, dx) row-major over the speeds
    assert bank.shape == (25, 3, T, 64, 64)
    at = {v: bank[(v[0] + 2) * 5 + v[1] + 2] for v in [(1, 2), (-2, 1), (0, 0)]}
    assert torch.allclose(at[(1, 2)], compensated_averages(mix, torch.tensor([[[1.0, 2.0]]]))[0, 0])
    assert torch.equal(at[(0, 0)][:, 1:], at[(0, 0)][:, :1].expand(-1, T - 1, -1, -1))
    # of all 25, the average closest to each layer is the one along that layer's motion
    best_a = max(range(25), key=lambda i: corr(bank[i], a))
    best_b = max(range(25), key=lambda i: corr(bank[i], b))
    assert (best_a, best_b) == ((1 + 2) * 5 + 2 + 2, (-2 + 2) * 5 + 1 + 2)


def test_bank_head_routes_a_layer_from_the_average_along_its_motion(blend):
    a, b, mix = blend
    model = create_model("centrifuge_small", bank=2)
    assert torch.equal(model(mix), mix[:, None].expand(-1, 2, -1, -1, -1, -1))  # Identity
    with torch.no_grad():  # layer 0: weight 1 on the average along (1, 2); layer 1: none
        model.route.bias[(1 + 2) * 5 + 2 + 2] = 1.0
        out = model(mix)[0]
    # masks ½ each at init, so n·½·(V + 1·(A − V)) = A: the routed average itself
    expected = compensated_averages(mix, torch.tensor([[[1.0, 2.0]]]))[0, 0]
    assert torch.allclose(out[0], expected, atol=1e-5)
    assert torch.equal(out[1], mix[0])
    assert corr(out[0], a) > corr(mix[0], a) + 0.05
    for bad in ({"bank": 9}, {"bank": 2, "head": "residual"}):
        with pytest.raises(ConfigError, match="bank"):
            create_model("centrifuge_small", **bad)
