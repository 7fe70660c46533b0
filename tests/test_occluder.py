"""The occluder method (a fence, drops moving over a scene), its matte solve, the
moving-occluder blends and their yardstick."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from centrifuge.data.entries import folder_entries
from centrifuge.data.occluders import MovingOccluderPairs
from centrifuge.errors import ConfigError
from centrifuge.evaluate.moving_occluder import _answers, _iou
from centrifuge.io import frames_to_tensor, write_video
from centrifuge.methods import create_method
from centrifuge.ops.homography import sample, translation
from centrifuge.ops.matte import solve_occlusion

T, S = 24, 64
R = (T - 1) // 2


def _photo(size=S) -> torch.Tensor:
    import skimage.data

    img = Image.fromarray(skimage.data.astronaut()).resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.array(img)).float().div(255).permute(2, 0, 1)


def _grid_over(scene: torch.Tensor, velocity=(1.3, 0.7), period=14, width=2):
    """A still ``scene`` ``(3, T, S, S)`` behind a fence moving at ``velocity`` px per
    frame: ``(mix, alpha (1, T, S, S), the fence's motion (T, 3, 3))``."""
    side = S + 48
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(),
                            indexing="ij")
    d = torch.minimum(xs % period, ys % period)
    alpha = (width - d).clamp(0, 1)[None]
    colour = torch.tensor([0.30, 0.55, 0.25])[:, None, None].expand(3, side, side)
    vx, vy = velocity
    paths = torch.stack([translation(24 + vx * (t - R), 24 + vy * (t - R)) for t in range(T)])
    seen = sample(torch.cat([colour, alpha])[None].expand(T, -1, -1, -1), paths, (S, S))
    a, o = seen[:, 3:].permute(1, 0, 2, 3), seen[:, :3].permute(1, 0, 2, 3)
    motion = torch.stack([translation(vx * (t - R), vy * (t - R)) for t in range(T)])
    return a * o + (1 - a) * scene, a, motion


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


def _ever_seen(alpha: torch.Tensor) -> torch.Tensor:
    """For a still scene: the pixels some frame shows it at."""
    return (alpha <= 0.5).any(dim=1, keepdim=True).expand_as(alpha)


def test_a_moving_fence_over_a_still_photograph_is_taken_away():
    """From the blend alone (both motions estimated): the scene to ≥ 30 dB in the
    frames, wherever some frame shows it; the fence's matte to IoU ≥ 0.8; the fence
    over black as the occluder."""
    scene = _photo()[:, None].expand(3, T, S, S)
    mix, alpha, _ = _grid_over(scene)
    method = create_method("occluder")
    out = method.separate_clip(mix)
    report = method.take_reports()[0]
    assert out.shape == (3, 3, T, S, S) and report["separated"], report
    seen = _ever_seen(alpha).expand(3, -1, -1, -1)
    assert _psnr(mix[seen], scene[seen]) < 17  # the blend is far from the scene
    assert _psnr(out[0][seen], scene[seen]) >= 30
    assert _iou(out[2][:1], alpha) >= 0.8
    fence = alpha[0] > 0.9
    assert float(out[1][1][fence].mean()) > 0.45 > float(out[1][1][alpha[0] < 0.01].mean())


def test_told_the_motions_the_solve_is_exact_and_the_clip_stays_where_it_shows():
    """Given both true motions the scene comes back to ≥ 40 dB, and where the fence
    never covers a pixel the scene handed back is the clip itself, bit for bit."""
    scene = _photo()[:, None].expand(3, T, S, S)
    mix, alpha, fence = _grid_over(scene)
    still = torch.eye(3, dtype=torch.float64).expand(T, 3, 3)
    found = solve_occlusion(mix, still, fence)
    seen = _ever_seen(alpha).expand(3, -1, -1, -1)
    assert _psnr(found.scene[seen], scene[seen]) >= 40
    truly = torch.nn.functional.max_pool2d(alpha, 3, 1, 1) == 0  # a pixel from the fence
    assert float(found.matte[truly].mean()) < 0.01  # the matte is clear where the fence is not
    exact = (found.scene == mix).all(0, keepdim=True)  # the clip itself, bit for bit
    assert float(exact[truly].float().mean()) > 0.95  # 0.99 here
    # the wrong way round (the fence taken for the scene) remakes the clip worse
    wrong = solve_occlusion(mix, fence, still)
    assert (wrong.remade - mix).abs().mean() > 1.5 * (found.remade - mix).abs().mean()


def test_a_translucent_occluder_gets_its_own_strength_of_matte():
    """Drops that let a fifth of the scene through (α = 0.8), told the motions: the matte
    handed back says about 0.8 inside them, not the all-or-nothing step it was solved with."""
    side = S + 48
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(),
                            indexing="ij")
    spots = ((xs % 20 - 10) ** 2 + (ys % 20 - 10) ** 2).sqrt()
    layer = torch.cat([torch.tensor([0.95, 0.9, 0.8])[:, None, None].expand(3, side, side),
                       0.8 * (5 - spots).clamp(0, 1)[None]])
    paths = torch.stack([translation(24 + 1.3 * (t - R), 24 + 0.7 * (t - R)) for t in range(T)])
    seen = sample(layer[None].expand(T, -1, -1, -1), paths, (S, S)).permute(1, 0, 2, 3)
    alpha = seen[3:]
    mix = alpha * seen[:3] + (1 - alpha) * _photo()[:, None]
    motion = torch.stack([translation(1.3 * (t - R), 0.7 * (t - R)) for t in range(T)])
    found = solve_occlusion(mix, torch.eye(3, dtype=torch.float64).expand(T, 3, 3), motion)
    inside = alpha > 0.79
    assert float((found.matte[inside] - 0.8).abs().mean()) < 0.1  # the step: 0.19
    assert float(found.matte[alpha == 0].mean()) < 0.01


def test_a_scene_near_in_time_fills_a_changing_scene():
    """A scene whose brightness drifts: the fill of each frame comes from the clear frames
    near it, not from the whole clip's average (which is off by the drift)."""
    base = _photo()
    ramp = torch.linspace(0.6, 1.0, T)[None, :, None, None]
    scene = (base[:, None] * ramp).clamp(0, 1)
    mix, alpha, fence = _grid_over(scene)
    still = torch.eye(3, dtype=torch.float64).expand(T, 3, 3)
    found = solve_occlusion(mix, still, fence)
    covered = (alpha > 0.5).expand(3, -1, -1, -1) & _ever_seen(alpha).expand(3, -1, -1, -1)
    err = (found.scene - scene)[covered].abs().mean()
    whole = (scene.mean(1, keepdim=True).expand_as(scene) - scene)[covered].abs().mean()
    assert err < 0.7 * whole


def test_an_occluder_that_never_moves_against_the_scene_cannot_be_separated():
    scene = _photo()[:, None].expand(3, T, S, S)
    mix, _, _ = _grid_over(scene, velocity=(0.0, 0.0))
    method = create_method("occluder")
    out = method.separate_clip(mix)
    report = method.take_reports()[0]
    # the two motions found are one, or the second finds no occluder: either way, said
    assert not report["separated"] and ("never moves against the scene" in report["why"]
                                        or "no occluder" in report["why"]), report
    assert torch.equal(out[0], mix) and not out[1:].any()


def test_a_video_too_short_for_motion_is_reported_not_separated():
    method = create_method("occluder")
    clip = torch.rand(3, 2, 16, 16)
    out = method.separate_clip(clip)
    assert torch.equal(out[0], clip) and not method.take_reports()[0]["separated"]


def test_occluder_settings_are_checked():
    assert create_method("occluder_removal", rounds=1).config.rounds == 1
    with pytest.raises(ConfigError, match="motion_rounds"):
        create_method("occluder_removal", motion_rounds=-1)
    with pytest.raises(ConfigError, match="preset"):
        create_method("occluder", rounds=1)
    m = create_method("occluder")
    assert m.n_layers == 3 and m.fixed_order and m.labels == ("scene", "occluder", "matte")


def test_moving_occluder_blends_are_seeded_and_know_what_the_scene_shows(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        pic = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        pic = np.asarray(Image.fromarray(pic).resize((160, 120), Image.BICUBIC))
        write_video(tmp_path / f"v{i}.mp4", np.repeat(pic[None], 12, 0), fps=10)
    entries = folder_entries(tmp_path)
    data = MovingOccluderPairs(entries, 6, frames=12, size=32, seed=5)
    a, b = data[1], MovingOccluderPairs(entries, 6, frames=12, size=32, seed=5)[1]
    assert torch.equal(a["mix"], b["mix"]) and a["mix"].shape == (3, 12, 32, 32)
    kinds = set()
    for item in (data[i] for i in range(6)):
        al, occ, scene = item["alpha"], item["v1"], item["v2"]
        assert torch.allclose(item["mix"], al * occ + (1 - al) * scene)
        assert 0.03 < float((al > 0.5).float().mean()) < 0.6, item["meta"]
        # every pixel shown now is seen; most covered ones were seen in another frame
        seen = item["scene_seen"]
        assert seen[al <= 0.5].float().mean() > 0.97
        assert seen.float().mean() > 0.8
        kinds.add(item["meta"]["occluder"])
    assert kinds == {"grid", "drops", "blobs", "supervoxels"}
    with pytest.raises(IndexError):
        data[6]


def test_a_supervoxel_occluder_is_a_foreground_clip_cut_along_its_supervoxels():
    """The supervoxels kind: the foreground clip's own frame at each time, inside whole
    supervoxels covering a fifth to a third of the clip."""
    from centrifuge.data.occluders import COVER, MOST, _supervoxels
    from centrifuge.data.superpixels import supervoxels

    rng = np.random.default_rng(3)
    pic = (rng.random((12, 12, 3)) * 255).astype(np.uint8)
    pic = np.asarray(Image.fromarray(pic).resize((96, 96), Image.BICUBIC))
    clip = np.stack([np.roll(pic, 2 * t, 1)[:48, :48] for t in range(10)])  # a pan
    colour, alpha = _supervoxels(np.random.default_rng(1), clip, 32)
    assert torch.equal(colour, frames_to_tensor(clip).permute(1, 0, 2, 3))
    inside = alpha > 0.5
    assert COVER - 0.02 <= float(inside[:, 8:40, 8:40].float().mean()) <= MOST + 0.02
    labels = torch.from_numpy(supervoxels(clip, time_step=1, work_size=48))
    shares = [float(inside[labels == k].float().mean()) for k in labels.unique()]
    assert all(s < 0.15 or s > 0.85 for s in shares), shares  # whole supervoxels, soft edges
    assert sum(s > 0.85 for s in shares) >= 2  # more than one of them


def test_the_yardstick_scores_the_scene_and_matte_an_answer_names():
    """A method naming its scene and matte is scored on them; the blend as the scene
    loses only where the occluder covers it; the told-matte ceiling is near exact on a
    still scene behind a moving fence."""
    from centrifuge.evaluate.occlusion import masked_loss

    scene = _photo(32)[:, None].expand(3, T, 32, 32)
    mix, alpha, fence = _grid_over(torch.nn.functional.pad(scene, (16, 16, 16, 16)))
    mix, alpha = mix[..., 16:48, 16:48], alpha[..., 16:48, 16:48]
    still = torch.eye(3, dtype=torch.float64).expand(T, 3, 3)
    item = {"mix": mix, "v2": scene, "alpha": alpha, "scene_seen": _ever_seen(alpha),
            "motion1": fence, "motion2": still}
    method = create_method("occluder")
    outputs = torch.stack([scene, torch.zeros_like(scene), alpha.expand(3, -1, -1, -1)])
    answers = {name: (s, m) for name, s, m in _answers(method, outputs, item)}
    assert torch.equal(answers["method"][0], outputs[0])
    assert torch.equal(answers["method"][1], alpha)
    where = item["scene_seen"][None]
    score = {k: float(masked_loss(s[None], scene[None], where)) for k, (s, _) in
             answers.items()}
    assert score["method"] == 0 and score["identity"] > 0.02
    assert score["told motions + matte"] < 0.1 * score["identity"]
    assert _iou(alpha, alpha) == 1.0 and _iou(torch.zeros_like(alpha), alpha) == 0.0
