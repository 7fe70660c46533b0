"""The shipped networks: present, small, verified at load, and usable (the default
method is training-free: tests/test_auto.py)."""

import shutil
from pathlib import Path

import pytest
import torch

from centrifuge import pretrained
from centrifuge.errors import ModelLoadingError
from centrifuge.pretrained import PRETRAINED, WEIGHTS_DIR, list_pretrained, load_pretrained


def test_networks_are_shipped_within_30_mb():
    assert "c3-cpu-v1" in list_pretrained()
    assert "default" not in list_pretrained()  # the default is the training-free auto
    for entry in PRETRAINED.values():
        path = WEIGHTS_DIR / entry.file
        assert path.is_file()
        assert path.stat().st_size <= 30 * 2**20
    # the wheel must stay under 40 MB, and the weights are nearly all of it (21.7 MB
    # with c3-cpu-v1 alone; 42.1 MB while centrifuge-cpu-v3 was shipped too)
    assert sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.safetensors")) <= 36 * 10**6
    assert (WEIGHTS_DIR / "MODEL_CARD.md").is_file()


def _blend() -> torch.Tensor:
    """Two patterns drifting in opposite directions, blended at α = ½: ``(1, 3, 8, 32, 32)``."""
    from centrifuge.io import frames_to_tensor

    from conftest import moving_pattern

    a = frames_to_tensor(moving_pattern(8, 32, 32, seed=1))
    b = frames_to_tensor(moving_pattern(8, 32, 32, seed=2, speed=-3))
    return (0.5 * (a + b))[None]


def _changes_the_blend(model) -> None:
    """A shipped network makes layers of its own: not the input handed back (a model that
    returns its input, or one layer twice, fails here; measured 0.06 / 0.12 for both)."""
    x = _blend()
    audio = (torch.randn(1, 257, 32, generator=torch.Generator().manual_seed(0)),) \
        if model.takes_audio else ()
    with torch.no_grad():
        out = model(x, *audio)
    assert out.shape == (1, model.n_outputs, 3, 8, 32, 32) and torch.isfinite(out).all()
    assert (out - x[:, None]).abs().mean() > 0.02  # not the input
    assert (out[:, 0] - out[:, 1]).abs().mean() > 0.04  # two different layers


def test_the_learned_network_loads_and_separates():
    model, name = load_pretrained("c3-cpu-v1")
    assert name in PRETRAINED
    _changes_the_blend(model)
    meta = model.checkpoint_metadata
    assert meta["train_config"]["name"].startswith("c3") and meta["metrics"]
    assert meta["model_args"]["encoder_init"] == "kinetics400"  # the record is the truth


def test_every_shipped_model_loads_by_name():
    for name in PRETRAINED:
        model, resolved = load_pretrained(name)
        assert resolved == name and model.n_outputs >= 2
        _changes_the_blend(model)


def test_damaged_weights_are_refused(tmp_path, monkeypatch):
    for entry in PRETRAINED.values():
        copy = tmp_path / entry.file
        shutil.copy(WEIGHTS_DIR / entry.file, copy)
        data = bytearray(copy.read_bytes())
        data[-100] ^= 0xFF  # one flipped byte in the weights
        copy.write_bytes(data)
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelLoadingError, match="does not match the shipped model"):
        load_pretrained("c3-cpu-v1")


def test_unknown_pretrained_name():
    with pytest.raises(ModelLoadingError, match="available: "):
        load_pretrained("centrifuge-xl")


@pytest.mark.corpus
def test_a_short_demo_writes_and_scores_what_it_separated(tmp_path):
    """The quick suite's demo: half a second of the camera-fixed one (the slow tests run the
    whole demos); what it reports is the score of the files it wrote."""
    from centrifuge.demo import format_report, run_demo

    r = run_demo(tmp_path, camera_fixed=True, seconds=0.5, progress=False)
    names = {p.name for p in Path(r["folder"]).iterdir()}
    assert {"layer_0.mp4", "layer_1.mp4", "input_mix.mp4", "summary.json"} <= names
    assert r["model"] == "static-layer" and r["frames"] >= 8
    assert r["model_loss"] < r["identity_loss"]  # the still head is found in half a second
    table = format_report(r)
    assert f"| model    | {r['model_loss']:.4f}" in table and "static-layer" in table


@pytest.mark.slow
@pytest.mark.corpus
def test_demo_runs_end_to_end(tmp_path, capsys):
    """`make demo`: the default (auto) on a real two-motion blend beats the blend and the
    best trivial answer (measured 0.203 against 0.334 / 0.323, 2026-12-07)."""
    from centrifuge.cli import main

    assert main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    loss = {line.split("|")[1].strip(): float(line.split("|")[2])
            for line in out.splitlines() if line.startswith("| ") and "PIT" not in line}
    assert "model auto" in out
    assert loss["model"] < 0.8 * loss["trivial"] and loss["trivial"] <= loss["Identity"]
    (folder,) = [p for p in tmp_path.glob("auto/demo-mix") if p.is_dir()]
    names = {p.name for p in folder.iterdir()}
    assert {"mosaic.mp4", "contact.png", "summary.json", "input_mix.mp4",
            "truth_1_psychopy-talk.mp4", "truth_2_city-night.mp4", "layer_0.mp4"} <= names
    assert main(["demo", "-o", str(tmp_path)]) == 2  # outputs exist: needs --force


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.parametrize("reflection", [False, True])
def test_camera_fixed_demo_separates(tmp_path, capsys, reflection):
    """The still talking head (as it is, or as a faint reflection in glass) and the
    panning city: static-layer / static-reflection beat the blend itself."""
    from centrifuge.cli import main
    from centrifuge.demo import run_demo

    r = run_demo(tmp_path, camera_fixed=True, reflection=reflection, progress=False,
                 seconds=2.0)
    model = "static-reflection" if reflection else "static-layer"
    assert r["model"] == model and r["frames"] > 32
    assert r["model_loss"] < r["identity_loss"], r
    assert (tmp_path / model / "demo-mix" / "contact.png").is_file()
    assert main(["demo", "--camera-fixed", "--audio", "-o", str(tmp_path / "x")]) == 2
    assert "pick one" in capsys.readouterr().err
    assert main(["demo", "--reflection", "-o", str(tmp_path / "x")]) == 2
    assert "goes with --camera-fixed" in capsys.readouterr().err
