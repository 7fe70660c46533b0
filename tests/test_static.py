"""static-layer / static-reflection (methods/static.py) and the camera-fixed blends that test it
(data/camera_fixed.py): a layer fixed to the camera is found without training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from centrifuge.data.camera_fixed import CameraFixedPairs, draw_pan, pan, travel
from centrifuge.data.entries import folder_entries
from centrifuge.errors import ConfigError
from centrifuge.evaluate import baselines
from centrifuge.io import frames_to_tensor, tensor_to_frames, write_video
from centrifuge.losses import pit_loss
from centrifuge.methods import StaticConfig, create_method
from centrifuge.methods.static import PRESETS, separate_static
from centrifuge.ops.poisson import gradients, integrate

from conftest import moving_pattern


def static(mix: torch.Tensor, **settings) -> torch.Tensor:
    """static_layer with ``settings`` on a batch ``(B, 3, T, H, W)`` (unclamped)."""
    return separate_static(mix, StaticConfig(**settings))


def test_integrate_recovers_an_image_from_its_gradients():
    x = torch.rand(2, 3, 17, 24, dtype=torch.float64)
    got = integrate(*gradients(x))
    assert torch.allclose(got, x - x.mean(dim=(-2, -1), keepdim=True), atol=1e-10)


# two textured photographs scikit-image ships (a person; a cup of coffee)
FIXED, MOVING = "astronaut.png", "coffee.png"


def _still(name: str, side: int) -> np.ndarray:
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    return np.asarray(Image.open(path).convert("RGB").resize((side, side), Image.BICUBIC))


def _windscreen(frames: int = 24, size: int = 64, speed: int = 2):
    """A natural still image fixed in the frame + another panning past it at ``speed``
    pixels per frame: the layers ``(1, 2, 3, T, S, S)`` and their α = ½ blend."""
    fixed = frames_to_tensor(np.repeat(_still(FIXED, size)[None], frames, axis=0))
    moving = frames_to_tensor(pan(np.repeat(_still(MOVING, 2 * size)[None], frames, axis=0), size,
                                  (10.0, 5.0), (speed * 0.6, speed * 0.8)))
    # the same mean colour: a blend cannot tell how the mean splits (the model splits it
    # evenly), so this isolates what the method estimates, the still layer's structure
    fixed = (fixed - fixed.mean(dim=(1, 2, 3), keepdim=True)
             + moving.mean(dim=(1, 2, 3), keepdim=True)).clamp(0, 1)
    layers = torch.stack([fixed, moving])[None]
    return layers, layers.mean(1)


def test_a_layer_fixed_to_the_camera_is_separated():
    layers, mix = _windscreen()
    full = static(mix, strength=1.0)
    identity = pit_loss(baselines.identity(mix), layers).loss
    assert pit_loss(full, layers).loss < 0.3 * identity
    # fixed order: layer 0 is the still layer
    err = (full[:, :, None] - layers[:, None]).abs().mean(dim=(3, 4, 5, 6))[0]
    assert err[0, 0] < err[0, 1] and err[1, 1] < err[1, 0]
    # the shipped strength goes halfway from the input to that estimate
    half = static(mix)
    assert torch.allclose(half, 0.5 * (full + mix[:, None]), atol=1e-6)
    assert pit_loss(half, layers).loss < 0.6 * identity


def test_a_faint_reflection_is_separated_in_linear_light():
    """blend=add: a faint still reflection added to a panning scene in linear light (as
    glass adds light), the targets the two as they enter the sum."""
    layers, _ = _windscreen()
    reflection, scene = 0.3 * layers[:, 0] ** 2.2, 0.8 * layers[:, 1] ** 2.2
    mix = (reflection + scene).clamp(0, 1) ** (1 / 2.2)
    targets = torch.stack([reflection ** (1 / 2.2), scene ** (1 / 2.2)], 1)
    trivial = min(pit_loss(f(mix), targets).loss for f in baselines.BASELINES.values())
    add = static(mix, strength=1.0, blend="add")
    # measured 0.15; without the min-composite bound 0.32, without the floor 0.19,
    # without the gamma 0.52
    assert pit_loss(add, targets).loss < 0.17 * trivial
    # glass adds light: the reflection is nowhere brighter than the clip's darkest frame
    assert (add[:, 0] ** 2.2 <= (mix ** 2.2).amin(dim=2, keepdim=True) + 1e-5).all()
    unbound = static(mix, strength=1.0, blend="add", bound=False)
    assert pit_loss(unbound, targets).loss > 1.5 * pit_loss(add, targets).loss
    # the α = ½ model doubles a faint reflection: no better than the trivial answers
    assert pit_loss(static(mix), targets).loss > 0.9 * trivial


def test_without_motion_nothing_is_separated():
    layers, mix = _windscreen(speed=0)
    out = static(mix, strength=1.0)
    assert pit_loss(out, layers).loss > pit_loss(baselines.identity(mix), layers).loss


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_outputs_average_to_the_input_in_fp32_under_autocast(strength):
    mix = torch.rand(2, 3, 6, 20, 28)
    with torch.autocast("cpu", torch.bfloat16):
        out = static(mix, strength=strength)
    assert out.dtype == torch.float32 and out.shape == (2, 2, 3, 6, 20, 28)
    assert torch.allclose(out.mean(1), mix, atol=1e-6)
    if strength == 0:
        assert torch.allclose(out, baselines.identity(mix), atol=1e-6)


@pytest.mark.parametrize("args", [{"strength": 1.5}, {"strength": "a"}, {"n_outputs": 4},
                                  {"widths": [8]}, {"blend": "screen"}, {"floor": 1.0},
                                  {"bound": "yes"}])
def test_bad_arguments_are_refused(args):
    with pytest.raises(ConfigError):
        create_method("static_layer", **args)
    with pytest.raises(ConfigError, match="preset"):  # the shipped presets take none
        create_method("static-layer", **args)


def test_the_presets_are_the_settings_they_were_chosen_with():
    """The presets live in code now (they were weight files with no tensors); these are
    the settings the model card's numbers were measured with."""
    layer, reflection = (create_method(n) for n in ("static-layer", "static-reflection"))
    assert layer.config == StaticConfig(strength=0.5)
    assert reflection.config == StaticConfig(strength=1.0, blend="add", floor=0.05, bound=True)
    assert layer.fixed_order and layer.kind == "training-free" and set(PRESETS) == {
        "static-layer", "static-reflection"}
    mix = torch.rand(3, 6, 20, 28)
    assert torch.allclose(layer.separate_clip(mix), static(mix[None])[0].clamp(0, 1))


def test_pan_moves_the_window_by_the_velocity():
    big = np.random.default_rng(0).integers(0, 255, (1, 40, 50, 3), dtype=np.uint8)
    out = pan(np.repeat(big, 5, axis=0), 16, (3.0, 4.0), (2.0, -1.0))
    for t in range(5):
        assert np.array_equal(out[t], big[0, 3 + 2 * t : 19 + 2 * t, 4 - t : 20 - t])
    with pytest.raises(ValueError, match="leaves"):
        pan(np.repeat(big, 5, axis=0), 16, (3.0, 4.0), (10.0, 0.0))


def test_drawn_pans_stay_inside_the_wide_frame():
    rng = np.random.default_rng(1)
    for frames, size in [(8, 16), (32, 64), (32, 112)]:
        side = size + travel(frames, size) + 2
        for _ in range(200):
            start, v = draw_pan(rng, frames, size, side)
            pan(np.zeros((frames, side, side, 3), np.uint8), size, start, v)  # raises if not


def test_camera_fixed_pairs_are_seeded_real_blends(tmp_path):
    for i in range(3):
        write_video(tmp_path / f"v{i}.mp4", moving_pattern(12, 40, 56, seed=i), fps=10)
    entries = folder_entries(tmp_path)
    data = CameraFixedPairs(entries, 4, frames=10, size=16, seed=5)
    a, b = data[2], CameraFixedPairs(entries, 4, frames=10, size=16, seed=5)[2]
    assert torch.equal(a["mix"], b["mix"]) and a["mix"].shape == (3, 10, 16, 16)
    assert torch.allclose(a["mix"], 0.5 * (a["v1"] + a["v2"]))
    assert a["meta"]["source1"] != a["meta"]["source2"]
    assert not torch.equal(data[1]["mix"], a["mix"])
    # V² pans: consecutive frames are shifted copies, not the same frame
    assert (a["v2"][:, 1:] - a["v2"][:, :-1]).abs().mean() > 0.01
    with pytest.raises(IndexError):
        data[4]
    # the same clips and pan, the fixed one now a faint reflection in glass
    r = CameraFixedPairs(entries, 4, frames=10, size=16, seed=5, reflection=True)[2]
    assert r["meta"]["blend"] == "camera-fixed-reflection"
    assert r["meta"]["source1"] == a["meta"]["source1"]
    assert r["v1"].mean() < a["v1"].mean()  # attenuated
    assert not torch.allclose(r["mix"], 0.5 * (r["v1"] + r["v2"]), atol=0.02)


def test_separate_by_name_writes_the_still_layer_first(tmp_path):
    """`centrifuge separate -n static-layer` on a windscreen-like clip written here."""
    from centrifuge.cli import main
    from centrifuge.io import read_video

    layers, mix = _windscreen(frames=24, size=48)
    clip = write_video(tmp_path / "drive.mp4", tensor_to_frames(mix[0]), fps=12)
    assert main(["separate", str(clip), "-o", str(tmp_path / "out"), "-n", "static-layer"]) == 0
    folder = tmp_path / "out" / "static-layer" / "drive"
    still = frames_to_tensor(read_video(folder / "layer_0.mp4").frames)
    moving = frames_to_tensor(read_video(folder / "layer_1.mp4").frames)
    fixed, panned = layers[0, 0], layers[0, 1]
    assert (still - fixed).abs().mean() < (mix[0] - fixed).abs().mean()
    assert (moving - panned).abs().mean() < (mix[0] - panned).abs().mean()
