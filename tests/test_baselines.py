"""The trivial answers a separator must beat (evaluate/baselines.py) and the field's
per-layer scores (PSNR, SSIM) beside them."""

from __future__ import annotations

import pytest
import torch

from centrifuge.evaluate.baselines import (
    BASELINES,
    baseline_losses,
    best_trivial,
    blur,
    without_motion,
)
from centrifuge.evaluate.blends import psnr, score_blend, ssim
from centrifuge.losses import pit_loss


def clip(seed=0, b=2, t=3, s=20):
    return torch.rand(b, 3, t, s, s, generator=torch.Generator().manual_seed(seed))


def test_each_baseline_is_exact_where_its_guess_is_the_truth():
    mix = clip()
    flat = mix.mean(dim=(2, 3, 4), keepdim=True).expand_as(mix)
    cases = {"identity": mix, "mean colour": flat, "grey": torch.full_like(mix, 0.5),
             "black": torch.zeros_like(mix), "blur": blur(mix)[:, 1]}
    for name, second in cases.items():
        targets = torch.stack([mix, second], 1)
        losses = baseline_losses(mix, targets)
        assert losses[name].abs().max() < 1e-6, name
        others = [v.mean() for k, v in losses.items() if k != name]
        assert min(others) > 1e-3, name  # the others are not


def test_blur_is_a_15px_box_with_replicated_edges():
    mix = torch.zeros(1, 3, 1, 31, 31)
    mix[..., 15, 15] = 1.0
    out = blur(mix)[:, 1]
    assert out[0, 0, 0, 15, 15].item() == pytest.approx(1 / 225)
    assert out[0, 0, 0, 15, 8].item() == pytest.approx(1 / 225)  # 7 px away: inside the box
    assert out[0, 0, 0, 15, 7].item() == 0  # 8 px away: outside
    flat = torch.full((1, 3, 2, 9, 9), 0.3)
    assert torch.allclose(blur(flat)[:, 1], flat)  # edges replicated, not zero-padded


def test_best_trivial_is_the_lowest_and_identity_matches_pit():
    assert best_trivial({"identity": 0.4, "grey": 0.3, "blur": 0.35}) == ("grey", 0.3)
    mix, targets = clip(1), torch.stack([clip(2), clip(3)], 1)
    ident = pit_loss(torch.stack([mix, mix], 1), targets).per_sample
    assert torch.equal(baseline_losses(mix, targets)["identity"], ident)
    assert set(BASELINES) == {"identity", "mean colour", "grey", "black", "blur"}


def test_psnr_and_ssim():
    a = clip(4, b=1, t=2, s=24)
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-5)
    noisy = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    assert 0 < ssim(noisy, a).item() < 0.95
    assert ssim(a, noisy).item() == pytest.approx(ssim(noisy, a).item(), abs=1e-6)  # symmetric
    mse = ((noisy - a) ** 2).mean()
    assert psnr(noisy, a).item() == pytest.approx(float(-10 * torch.log10(mse)), rel=1e-4)


def test_score_blend_reports_matched_layers():
    v1, v2 = clip(5), clip(6)
    mix = (v1 + v2) / 2
    s = score_blend(torch.stack([v2, v1], 1), mix, torch.stack([v1, v2], 1))  # swapped
    assert s.loss.abs().max() < 1e-6 and (s.ssim > 0.999).all()
    assert (s.identity_ssim < 0.9).all() and (s.identity > 0.05).all()


def test_without_motion_repeats_the_first_frame_and_keeps_a_blend_a_blend():
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 6, 16, 16), torch.rand(2, 3, 6, 16, 16)
    a = torch.stack([torch.roll(a[:, :, 0], t, -1) for t in range(6)], 2)  # a pan
    still = without_motion(a)
    assert still.shape == a.shape
    assert all(torch.equal(still[:, :, t], a[:, :, 0]) for t in range(6))
    assert not torch.equal(a[:, :, 5], a[:, :, 0])
    # frame by frame, so the still blend is the blend of the still layers
    assert torch.allclose(without_motion((a + b) / 2), (without_motion(a) + without_motion(b)) / 2)


def test_scores_in_spans_of_frames_are_the_scores_of_the_whole_clip():
    """score_blend scores a long clip a few frames at a time (flat memory); every score is
    a mean over frames, so the spans weighted by their length give the whole clip's."""
    from centrifuge.evaluate.blends import score_blend

    g = torch.Generator().manual_seed(0)
    targets = torch.rand(2, 2, 3, 37, 20, 24, generator=g)
    mix, outputs = targets.mean(1), torch.rand(2, 3, 3, 37, 20, 24, generator=g)
    outputs[:, 2] = targets[:, 0]  # a right answer among the outputs: the PIT must find it
    whole, spans = score_blend(outputs, mix, targets, frames=37), \
        score_blend(outputs, mix, targets, frames=5)
    for name in ("loss", "identity", "psnr", "identity_psnr", "ssim", "identity_ssim"):
        assert torch.allclose(getattr(spans, name), getattr(whole, name), atol=1e-5), name
    assert (whole.psnr[:, 0] == 100).all()  # the exact layer was matched: MSE 0, 100 dB
