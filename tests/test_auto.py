"""The default method, ``auto`` (methods/auto.py): per clip it picks the picture that fits
— an overlay or a faint reflection, two motions or a layer fixed to the camera — or says
the clip cannot be separated, and records what it chose."""

from __future__ import annotations

import json

import pytest
import torch

from centrifuge.cli import main
from centrifuge.errors import ConfigError
from centrifuge.evaluate.blends import psnr
from centrifuge.io import tensor_to_frames, write_video
from centrifuge.methods import create_method
from centrifuge.separation.inference import Separator
from test_motion_layers import T, _centred, _still, _through, _two_rigid_layers


def _glass(reflection: torch.Tensor, scene: torch.Tensor) -> torch.Tensor:
    """A faint reflection in glass: light adds (γ 2.2)."""
    return (0.25 * reflection ** 2.2 + 0.75 * scene ** 2.2).clamp(0, 1) ** (1 / 2.2)


def _run(mix: torch.Tensor):
    auto = create_method("auto")
    out = auto.separate_clip(mix)
    (report,) = auto.take_reports()
    return out, report


def _best_psnr(out: torch.Tensor, layer: torch.Tensor) -> float:
    return max(float(psnr(_centred(o), _centred(layer))) for o in out)


def test_an_overlay_of_two_motions_is_solved_as_one():
    a, b, _ = _two_rigid_layers()
    mix = 0.5 * (a + b)
    out, r = _run(mix)
    assert (r["chose"], r["blend"]) == ("two-motion", "average"), r
    assert r["fit"]["average"] > r["fit"]["add"]  # measured 0.974 / 0.873
    for layer in (a, b):  # each layer far better than the blend shows it (~15 dB)
        assert _best_psnr(out, layer) > float(psnr(_centred(mix), _centred(layer))) + 8


def test_a_faint_reflection_is_solved_in_light_that_adds():
    a, b, _ = _two_rigid_layers()
    out, r = _run(_glass(a, b))
    assert (r["chose"], r["blend"]) == ("two-motion", "add"), r
    assert r["fit"]["add"] > r["fit"]["average"]  # measured 0.938 / 0.879


def test_a_reflection_fixed_to_the_camera_goes_to_static_reflection():
    """The still reflection's own motion is the one the blend hides (estimated 4 px off
    still): held still, it fits better, and the camera-fixed method answers."""
    _, b, _ = _two_rigid_layers()
    fixed, _ = _through(_still("astronaut.png"), (0.0, 0.0))
    mix = _glass(fixed, b)
    out, r = _run(mix)
    assert (r["chose"], r["blend"]) == ("camera-fixed", "add"), r
    held = r["fit_held_still"]
    assert max(held["first"], held["second"]) > held["neither"]
    assert torch.equal(out, create_method("static-reflection").separate_clip(mix))


def test_a_still_clip_is_no_separation_and_says_why():
    frame = _still("coffee.png")[:, :48, :48]
    video = frame[:, None].expand(-1, T, -1, -1).contiguous()
    out, r = _run(video)
    assert r["chose"] == "none" and not r["separated"] and "cannot" in r["why"]
    assert torch.equal(out[0], video) and torch.equal(out[1], video)


def test_layers_that_remake_little_of_the_clip_are_no_separation_and_say_why():
    """Two rigid layers under strong noise of their own in every frame (what no rigid layer
    follows: content moving on its own): the motions are found and differ, but the two
    layers remake under ``min_fit`` of the clip's edges (measured 0.30), so the input comes
    back; with the gate off the same clip is handed back as a joint solve."""
    a, b, _ = _two_rigid_layers()
    noise = torch.rand(a.shape, generator=torch.Generator().manual_seed(0))
    mix = (0.5 * (a + b) + 0.3 * (noise - 0.5)).clamp(0, 1)
    out, r = _run(mix)
    assert r["chose"] == "none" and not r["separated"] and "remake only" in r["why"], r
    assert r["motion_gap_px"] > 10 and max(r["fit"].values()) < 0.4
    assert torch.equal(out[0], mix) and torch.equal(out[1], mix)
    ungated = create_method("auto_layers", min_fit=0.0)
    ungated.separate_clip(mix)
    assert ungated.take_reports()[0]["chose"] == "two-motion"


def test_a_layer_found_still_makes_the_reflection_win_clearly_or_not_at_all():
    from centrifuge.methods.auto import AutoConfig

    c = AutoConfig()  # margin 0.01, still_px 1, still_lead 0.02
    assert c.prefers_reflection(0.80, 0.795, still_px=5.0)  # a tie goes to the reflection
    assert not c.prefers_reflection(0.80, 0.785, still_px=5.0)
    assert not c.prefers_reflection(0.80, 0.815, still_px=0.5)  # a still layer is strong
    assert c.prefers_reflection(0.80, 0.83, still_px=0.5)


def test_motions_that_remake_the_clip_no_better_than_a_still_layer_are_given_up():
    from centrifuge.methods.auto import AutoConfig

    c = AutoConfig()  # min_fit 0.4
    held = {"neither": 0.63, "first": 0.68, "second": 0.80, "still_alone": 0.77}
    assert "held still" in c.gives_up(0.67, held, fixed=False)
    assert "held still" in c.gives_up(0.67, held, fixed=True)  # static-reflection too
    assert c.gives_up(0.67, {**held, "still_alone": 0.60}, fixed=True) is None
    assert c.gives_up(0.67, None, fixed=False) is None
    assert "remake only 39%" in c.gives_up(0.39, None, fixed=False)
    assert c.gives_up(0.39, None, fixed=True) is None  # static-reflection's own layers


def test_settings_are_checked_and_the_preset_is_fixed():
    assert create_method("auto_layers", margin=0.0).config.margin == 0.0
    with pytest.raises(ConfigError, match="margin must be a number"):
        create_method("auto_layers", margin=-1)
    with pytest.raises(ConfigError, match="auto is a preset"):
        create_method("auto", margin=0.1)


def test_separate_with_no_method_named_runs_auto_and_records_its_choice(tmp_path, capsys):
    a, b, _ = _two_rigid_layers()
    clip = tmp_path / "overlay.mp4"
    write_video(clip, tensor_to_frames(0.5 * (a + b)), fps=8)
    out = tmp_path / "out"
    assert main(["separate", str(clip), "-o", str(out)]) == 0
    assert "auto chose per segment: two-motion 1" in capsys.readouterr().out
    folder = out / "auto" / "overlay"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["chose"] == {"two-motion": 1}
    page = (folder / "report.html").read_text()
    assert "What the method found per segment" in page and "the joint solve" in page
    assert summary["model"] == "auto" and summary["method"]["kind"] == "training-free"
    segments = summary["segments"]
    assert segments and all(s["chose"] in ("two-motion", "camera-fixed", "none")
                            for s in segments)
    assert segments[0]["chose"] == "two-motion" and segments[0]["reason"]
    assert Separator(progress=False).method.name == "auto"


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_black_or_constant_videos_come_back_whole_and_finite(value):
    video = torch.full((3, T, 24, 24), value)
    out, r = _run(video)
    assert torch.isfinite(out).all() and r["chose"] == "none"
    assert torch.equal(out[0], video)
