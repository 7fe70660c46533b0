"""Layers that move differently (methods/motion_layers.py), the operations under them
(ops/homography.py, ops/tracking.py, ops/layer_solve.py) and the two-motion blends that
measure them (data/two_motion.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from centrifuge.data.entries import folder_entries
from centrifuge.data.two_motion import TwoMotionPairs, draw_camera, margin, relative_motion
from centrifuge.errors import ConfigError
from centrifuge.evaluate.blends import psnr
from centrifuge.io import frames_to_tensor, tensor_to_frames, write_video
from centrifuge.methods import create_method
from centrifuge.methods.motion_layers import MotionLayers
from centrifuge.ops.homography import (
    apply,
    corner_error,
    sample,
    sampling_grid,
    similarity,
    translation,
)
from centrifuge.ops.layer_solve import frames_of, motion_gap, see, solve
from centrifuge.ops.tracking import clip_velocities, guided_motion, to_grey

T, S, SIDE = 16, 48, 96


def _still(name: str, side: int = SIDE) -> torch.Tensor:
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    pic = np.asarray(Image.open(path).convert("RGB").resize((side, side), Image.BICUBIC))
    return torch.from_numpy(pic.copy()).permute(2, 0, 1).float() / 255


def _through(picture: torch.Tensor, velocity, zoom=0.0, turn=0.0):
    """A still picture seen by a camera: the clip ``(3, T, S, S)`` and its true motion
    (frame t → the middle frame) ``(T, 3, 3)``."""
    r, c, off = (T - 1) // 2, ((S - 1) / 2, (S - 1) / 2), (SIDE - S) / 2
    path = torch.stack([similarity(math.exp(zoom * (t - r)), turn * (t - r),
                                   (off + velocity[0] * (t - r), off + velocity[1] * (t - r)), c)
                        for t in range(T)])
    clip = sample(picture[None].expand(T, -1, -1, -1), path, (S, S)).permute(1, 0, 2, 3)
    return clip.clamp(0, 1), relative_motion(path)


def _two_rigid_layers():
    a, ma = _through(_still("astronaut.png"), (1.5, 0.5))
    b, mb = _through(_still("coffee.png"), (-1.0, 1.2), zoom=0.01, turn=0.005)
    return a, b, torch.stack([ma, mb])


def _centred(x: torch.Tensor) -> torch.Tensor:
    """Up to each channel's mean: no blend tells how the mean colour splits."""
    return x - x.mean(dim=(1, 2, 3), keepdim=True) + 0.5


def test_the_solver_recovers_rigid_layers_from_their_motions():
    a, b, motions = _two_rigid_layers()
    mix = 0.5 * (a + b)
    layers, canvas = solve(mix, motions, smooth=0.0, iterations=150)
    out, rest = frames_of(layers, canvas, mix)
    for got, true in ((out[0], a), (out[1], b)):
        assert psnr(_centred(got), _centred(true)) >= 35  # measured 38.1
    assert psnr(mix, a) < 16  # the blend itself is far from either
    # told the wrong motions (swapped), the same solve is no separation
    wrong, canvas = solve(mix, motions.flip(0) @ translation(3, 0), smooth=0.0, iterations=60)
    assert psnr(_centred(frames_of(wrong, canvas, mix)[0][0]), _centred(a)) < 25


def test_what_a_rigid_layer_cannot_explain_goes_to_the_layer_with_edges_there():
    """A flicker over the textured layer, where the other layer is a smooth ramp, stays in
    the textured layer's output (the edge shares), instead of going to both."""
    a, ma = _through(_still("astronaut.png"), (1.5, 0.5))
    ramp = torch.linspace(0.3, 0.7, SIDE)
    b, mb = _through(torch.stack([ramp[None].expand(SIDE, SIDE), ramp[:, None].expand(SIDE, SIDE),
                                  torch.full((SIDE, SIDE), 0.5)]), (-1.0, 1.2))
    flicker = torch.zeros_like(a)
    checks = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 0.3 - 0.15
    flicker[:, 1::2, 20:28, 20:28] = checks  # every other frame, fixed in the frame
    a = (a + flicker).clamp(0, 1)
    mix = 0.5 * (a + b)
    layers, canvas = solve(mix, torch.stack([ma, mb]), smooth=0.0, iterations=150)
    out, rest = frames_of(layers, canvas, mix)
    both = (see(layers, canvas) + rest).clamp(0, 1)  # the flicker given to both layers
    patch = (slice(None), slice(1, None, 2), slice(20, 28), slice(20, 28))
    assert rest[patch].abs().mean() > 0.03  # a real flicker the rigid layers leave out
    # the outputs' mean is the clip, so the face's error is the ramp's, mirrored
    shared, given = ((x[1] - b)[patch].abs().mean() for x in (out, both))
    assert shared < 0.7 * given  # measured 0.037 against 0.066


def test_additive_layers_are_solved_in_linear_light():
    """Glass: the reflection's light adds to the scene's; solved in linear light, both come
    back as they enter the sum."""
    a, b, motions = _two_rigid_layers()
    reflection, scene = 0.25 * a ** 2.2, 0.75 * b ** 2.2
    mix = (reflection + scene).clamp(0, 1) ** (1 / 2.2)
    layers, canvas = solve(mix, motions, model="add", smooth=0.0, iterations=400)
    out, _ = frames_of(layers, canvas, mix, model="add")
    got_scene = out[1] ** 2.2
    assert psnr(_centred(got_scene), _centred(scene)) >= 30
    average, canvas = solve(mix, motions, model="average", smooth=0.0, iterations=400)
    wrong = frames_of(average, canvas, mix)[0][1] ** 2.2  # the α = ½ model mis-scales it
    assert psnr(_centred(got_scene), _centred(scene)) > psnr(_centred(wrong), _centred(scene))


def test_each_layers_motion_is_tracked_from_a_single_layer_clip():
    clip, true = _through(_still("astronaut.png"), (1.5, -0.7), zoom=0.006)
    grey = to_grey(clip)
    velocity, _ = clip_velocities(grey, 1)
    assert np.allclose(velocity[0], [-1.5, 0.7], atol=0.3)  # the content moves: −camera
    motion, agree = guided_motion(grey, velocity[0])
    assert corner_error(motion, true, (S, S)).max() < 1.0 and agree.mean() > 0.5  # 0.65 here
    assert corner_error(torch.eye(3).double().expand(T, 3, 3), true, (S, S)).max() > 5


def test_corner_error_and_motion_gap_measure_pixels():
    shift = translation(3, 4).expand(5, 3, 3)
    eye = torch.eye(3, dtype=torch.float64).expand(5, 3, 3)
    assert torch.allclose(corner_error(shift, eye, (10, 20)), torch.full((5,), 5.0,
                                                                          dtype=torch.float64))
    assert motion_gap(torch.stack([shift, eye]), (10, 20)) == pytest.approx(5.0)
    assert motion_gap(torch.stack([eye, eye]), (10, 20)) == 0


def test_a_sampling_grid_reads_where_the_homography_sends_each_pixel():
    """The grid lands where a float64 point map sends each pixel — the fast one (float32,
    the normalisation folded into the homography) to 1e-3 px, the default to 1e-9 px — for
    a turned, zoomed, shifted and slightly projective motion onto a source of another
    size."""
    h = similarity(1.1, 0.2, (7.5, -3.25), (40.0, 30.0))[None].clone()
    h[0, 2, :2] = torch.tensor([2e-4, -1e-4])
    size, source = (48, 64), (90, 120)
    ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
    want = apply(h.double(), torch.stack([xs, ys], -1).reshape(1, -1, 2).double())
    for fast, tol in ((True, 1e-3), (False, 1e-9)):
        grid = sampling_grid(h, size, source, torch.float64, fast=fast).reshape(1, -1, 2)
        px = (grid + 1) / 2 * torch.tensor([source[1] - 1, source[0] - 1])
        assert float((px - want).abs().max()) < tol


def test_a_still_video_is_reported_as_not_separable():
    frames = torch.rand(3, 1, 32, 32).expand(3, 12, 32, 32).contiguous()
    method = create_method("motion-layers")
    out = method.separate_clip(frames)
    (report,) = method.take_reports()
    assert not report["separated"] and "cannot tell the layers apart" in report["why"]
    assert torch.equal(out[0], frames) and torch.equal(out[1], frames)
    assert method.take_reports() == []  # taken once


@pytest.mark.parametrize("shape", [(3, 1, 16, 16), (3, 2, 16, 16), (3, 8, 1, 1)])
def test_clips_too_small_for_motion_come_back_whole(shape):
    video = torch.rand(shape)
    method = create_method("motion-layers")
    out = method.separate_clip(video)
    assert out.shape == (2, *shape) and torch.equal(out[0], video)
    assert "too small" in method.take_reports()[0]["why"]


@pytest.mark.parametrize("value", [0.0, 0.5])
def test_constant_videos_give_finite_layers(value):
    video = torch.full((3, 8, 24, 24), value)
    out = create_method("motion-layers").separate_clip(video)
    assert torch.isfinite(out).all() and torch.allclose(out, video.expand_as(out), atol=1e-4)


def test_bad_settings_are_refused():
    for bad in ({"model": "screen"}, {"rounds": -1}, {"iterations": 0}, {"smooth": -1},
                {"speed": 2}):
        with pytest.raises(ConfigError):
            create_method("motion_layers", **bad)
    with pytest.raises(ConfigError, match="preset"):
        create_method("motion-layers", rounds=2)
    assert isinstance(create_method("motion-reflection"), MotionLayers)
    assert create_method("motion-reflection").config.model == "add"


def test_two_motion_pairs_are_seeded_and_carry_their_true_motions(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):  # still pictures as clips: their only motion is the synthetic camera
        pic = (rng.random((1, 24, 32, 3)) * 255).astype(np.uint8)
        pic = np.asarray(Image.fromarray(pic[0]).resize((160, 120), Image.BICUBIC))
        write_video(tmp_path / f"v{i}.mp4", np.repeat(pic[None], 10, 0), fps=10)
    entries = folder_entries(tmp_path)
    data = TwoMotionPairs(entries, 6, frames=10, size=32, seed=3)
    a, b = data[2], TwoMotionPairs(entries, 6, frames=10, size=32, seed=3)[2]
    assert torch.equal(a["mix"], b["mix"]) and a["mix"].shape == (3, 10, 32, 32)
    assert torch.allclose(a["mix"], 0.5 * (a["v1"] + a["v2"]))
    assert a["motion1"].shape == (10, 3, 3) and torch.allclose(
        a["motion1"][4], torch.eye(3, dtype=torch.float64))  # the middle frame is the reference
    for item in (data[i] for i in range(6)):
        for k in ("1", "2"):  # frame t carried by its motion lands on the reference frame
            v, m = item["v" + k], item["motion" + k]
            ref = v[:, 4]
            back = sample(ref[None].expand(10, -1, -1, -1), m, (32, 32)).permute(1, 0, 2, 3)
            inner = (slice(None), slice(None), slice(8, 24), slice(8, 24))
            assert (back - v)[inner].abs().mean() < 0.03, item["meta"]
    with pytest.raises(IndexError):
        data[6]
    kinds = {data[i]["meta"]["camera1"] for i in range(6)} | {
        data[i]["meta"]["camera2"] for i in range(6)}
    assert any(k.startswith("pan") for k in kinds)


def test_two_motion_pairs_with_sound_carry_the_first_clips_sound(tmp_path):
    """``audio=True``: V¹ is drawn among the clips with sound and its sound comes along,
    covering the clip's frames (``benchmarks/sound_pick.py``'s blends); the silent clip
    is never V¹."""
    from centrifuge.io.audio import SAMPLE_RATE

    rng = np.random.default_rng(0)
    for i, loud in enumerate((True, False)):
        pic = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        pic = np.asarray(Image.fromarray(pic).resize((160, 120), Image.BICUBIC))
        t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
        sound = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32) if loud else None
        write_video(tmp_path / f"v{i}.mp4", np.repeat(pic[None], 20, 0), fps=10, audio=sound)
    data = TwoMotionPairs(folder_entries(tmp_path), 3, frames=10, size=32, seed=3, audio=True)
    for item in (data[i] for i in range(3)):
        assert item["meta"]["source1"] == "v0.mp4"
        wave = item["sound"]
        assert abs(len(wave) - SAMPLE_RATE) <= 1  # 10 frames at 10 fps: one second
        assert 0.15 < float(np.sqrt(np.mean(wave**2))) < 0.25  # the tone, not silence
    assert "sound" not in TwoMotionPairs(folder_entries(tmp_path), 1, frames=10, size=32,
                                         seed=3)[0]


def test_cameras_stay_inside_their_wide_frame():
    rng = np.random.default_rng(1)
    for frames, size in [(8, 16), (32, 64), (32, 112)]:
        side = size + 2 * margin(frames, size)
        for _ in range(100):
            path, _ = draw_camera(rng, frames, size, side)
            c = torch.tensor([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1.0]],
                             dtype=torch.float64)
            from centrifuge.ops.homography import apply

            pts = apply(path, c)
            assert (pts >= -0.5).all() and (pts <= side - 0.5).all()


def test_separate_by_name_reports_each_segment(tmp_path):
    """`centrifuge separate -n motion-layers` on a two-motion clip written here: the layers
    come back at the input's size, summary.json says what each segment held."""
    import json

    from centrifuge.cli import main

    a, b, _ = _two_rigid_layers()
    clip = write_video(tmp_path / "window.mp4", tensor_to_frames(0.5 * (a + b)), fps=8)
    assert main(["separate", str(clip), "-o", str(tmp_path / "out"), "-n", "motion-layers",
                 "--no-report"]) == 0
    folder = tmp_path / "out" / "motion-layers" / "window"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["method"]["kind"] == "training-free"
    (segment,) = summary["segments"]
    assert segment["separated"] and segment["motion_gap_px"] > 5 and summary["warning"] is None
    from centrifuge.io import read_video

    layer = frames_to_tensor(read_video(folder / "layer_0.mp4").frames)
    assert layer.shape == a.shape
    # still: one clip, nothing moves: said so in the summary and on the terminal
    still = write_video(tmp_path / "still.mp4", tensor_to_frames(a[:, :1].expand_as(a)), fps=8)
    assert main(["separate", str(still), "-o", str(tmp_path / "out"), "-n", "motion-layers",
                 "--no-report"]) == 0
    summary = json.loads((tmp_path / "out/motion-layers/still/summary.json").read_text())
    assert "could not be separated" in summary["warning"]


@pytest.mark.parametrize("frames, side, message", [(1, 32, "at least 3 frames"),
                                                    (2, 32, "at least 3 frames"),
                                                    (12, 4, "at least 8×8")])
def test_a_video_too_short_or_small_for_motion_is_one_line_exit_2(tmp_path, capsys, frames,
                                                                    side, message):
    from centrifuge.cli import main

    rng = np.random.default_rng(0)
    clip = write_video(tmp_path / "short.mp4",
                       (rng.random((frames, side, side, 3)) * 255).astype(np.uint8), fps=8)
    out = tmp_path / "out"
    assert main(["separate", str(clip), "-o", str(out), "-n", "motion-layers"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and not out.exists()
    # the same clip is fine for a method that needs no motion
    assert main(["separate", str(clip), "-o", str(out), "-n", "static-layer",
                 "--no-report", "--no-mosaic"]) == 0
