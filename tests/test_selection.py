"""Choosing 2 of n layers: the paper's rule and the re-composition rule, on hand-made
layers where the right pair is known."""

import pytest
import torch

from centrifuge.errors import ConfigError
from centrifuge.separation.selection import LayerStats, PairStats, pair_stats


def layers_and_mix(seed=0, t=6, s=16):
    g = torch.Generator().manual_seed(seed)
    v1 = torch.rand(3, t, s, s, generator=g)
    v2 = torch.rand(3, t, s, s, generator=g)
    return v1, v2, 0.5 * (v1 + v2)


def test_recompose_finds_the_true_pair_where_the_paper_rule_fails():
    v1, v2, mix = layers_and_mix()
    # Output 3 is a garbage layer far from everything: the most dissimilar pair uses it.
    garbage = 1 - v1
    layers = torch.stack([v1, mix, v2, garbage])
    assert pair_stats(layers, mix).pick("dissimilar") in {(0, 3), (2, 3), (1, 3)}
    assert pair_stats(layers, mix).pick("recompose") == (0, 2)


def test_recompose_refuses_a_copy_of_the_input_with_anything():
    v1, v2, mix = layers_and_mix(1)
    # (mix, anything) would re-compose the input exactly with α = 1: not a separation.
    layers = torch.stack([mix, v1 * 0.9 + 0.05, v2 * 0.9 + 0.05, mix * 0.98])
    assert pair_stats(layers, mix).pick("recompose") == (1, 2)


def test_recompose_fits_alpha():
    v1, v2, _ = layers_and_mix(2)
    mix = 0.3 * v1 + 0.7 * v2
    # (no other pair lies on the line through V¹ and V², which would explain it too)
    layers = torch.stack([1 - v2, v1, v2, 1 - v1])
    stats = PairStats(4)
    stats.update(layers, mix)
    assert stats.pick("recompose") == (1, 2)
    assert float(stats.recomposition_error()[1, 2]) == pytest.approx(0, abs=1e-8)


def test_streaming_equals_one_block():
    v1, v2, mix = layers_and_mix(3, t=8)
    layers = torch.stack([v1, v2, mix, 1 - mix])
    whole, parts = PairStats(4), PairStats(4)
    whole.update(layers, mix)
    parts.update(layers[:, :, :3], mix[:, :3])
    parts.update(layers[:, :, 3:], mix[:, 3:])
    assert torch.allclose(whole.distance(), parts.distance())
    assert torch.allclose(whole.recomposition_error(), parts.recomposition_error())
    d = {(a, b): (layers[a] - layers[b]).abs().mean().item()
         for a in range(4) for b in range(a + 1, 4)}
    assert whole.pick("dissimilar") == max(d, key=d.get)


def test_statistics_match_a_direct_computation():
    v1, v2, mix = layers_and_mix(4, t=5)
    layers = torch.stack([v1, 0.7 * v2 + 0.1, mix]).double()
    stats = PairStats(3)
    stats.update(layers.float(), mix)
    for i in range(3):
        assert float(stats.to_input()[i]) == pytest.approx(
            float((mix - layers[i]).abs().mean()), rel=1e-5)
        for j in range(3):
            if i == j:
                continue
            assert float(stats.distance()[i, j]) == pytest.approx(
                float((layers[i] - layers[j]).abs().mean()), rel=1e-5)
            # the best α in [0.25, 0.75] by brute force
            errs = [float(((a * layers[i] + (1 - a) * layers[j] - mix) ** 2).mean())
                    for a in torch.linspace(0.25, 0.75, 2001, dtype=torch.float64)]
            assert float(stats.recomposition_error()[i, j]) == pytest.approx(min(errs),
                                                                            rel=1e-4, abs=1e-9)


def test_layer_stats_streamed_in_blocks_match_the_whole_video():
    v1, v2, mix = layers_and_mix(5, t=6, s=18)
    layers = torch.stack([v1, 0.5 * v2 + 0.2])
    stats = LayerStats(2)
    stats.update(layers[:, :, :4], mix[:, :4])
    stats.update(layers[:, :, 4:], mix[:, 4:])
    for i, row in enumerate(stats.summary()):
        x = layers[i].double()
        assert row["mean_rgb"] == pytest.approx(x.mean(dim=(1, 2, 3)).tolist(), abs=1e-4)
        assert row["std"] == pytest.approx(float(x.std(dim=(1, 2, 3), correction=0).mean()),
                                           abs=1e-4)
        grid = (mix - layers[i])[..., ::2, ::2]  # the distance is estimated on a 2×2 grid
        assert row["mean_abs_diff_to_input"] == pytest.approx(float(grid.abs().mean()), abs=1e-4)


def test_unknown_rule():
    with pytest.raises(ConfigError, match="recompose, dissimilar"):
        PairStats(2).pick("best")
