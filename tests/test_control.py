"""Control by sound at inference: `separate -n <C3> [--audio FILE]`, Separator(audio=...)."""

import json

import av
import numpy as np
import pytest
import torch

from centrifuge.cli import main
from centrifuge.io import read_audio, write_video
from centrifuge.models import create_model, save_model
from centrifuge.separation.inference import Separator, stitch

from conftest import moving_pattern, tone

AUDIO = {"audio_channels": [4, 8], "regressor_channels": 8}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("control")
    write_video(root / "clip.mp4", moving_pattern(20, 32, 48, seed=1), 10, audio=tone(2.0, 300))
    write_video(root / "mute.mp4", moving_pattern(20, 32, 48, seed=2), 10)
    write_video(root / "other.mp4", moving_pattern(12, 32, 48, seed=3), 10,
                audio=tone(1.2, 1000))
    torch.manual_seed(0)
    save_model(root / "c3.safetensors", create_model("c3_tiny", n_outputs=2, **AUDIO).eval())
    save_model(root / "c2.safetensors", create_model("c2_tiny", n_outputs=2).eval())
    return root


def _dominant_hz(path) -> float:
    wave = read_audio(path)
    spectrum = np.abs(np.fft.rfft(wave))
    return float(np.fft.rfftfreq(len(wave), 1 / 16000)[spectrum.argmax()])


def test_separate_with_own_soundtrack_writes_the_selected_layer(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["separate", str(files / "clip.mp4"), "-n", str(files / "c3.safetensors"),
                 "--segment", "8", "-o", str(out)]) == 0
    folder = out / "c3" / "clip"
    summary = json.loads((folder / "summary.json").read_text())
    control = summary["control"]
    assert control["audio"] == "own soundtrack" and len(control["scores"]) == 2
    k = control["selected_output"]
    assert k == int(np.argmin(control["scores"]))
    assert (folder / "selected.mp4").read_bytes() == (folder / f"layer_{k}.mp4").read_bytes()
    assert "picks model output" in capsys.readouterr().out
    page = (folder / "report.html").read_text()
    assert "Control by sound" in page and 'src="selected.mp4"' in page


def test_another_sound_picks_and_goes_with_the_selected_layer(files, tmp_path):
    out = tmp_path / "out"
    assert main(["separate", str(files / "mute.mp4"), "-n", str(files / "c3.safetensors"),
                 "--segment", "8", "-o", str(out), "--audio", str(files / "other.mp4")]) == 0
    folder = out / "c3" / "mute"
    assert json.loads((folder / "summary.json").read_text())["control"]["audio"].endswith(
        "other.mp4")
    selected = folder / "selected.mp4"
    with av.open(str(selected)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == 20
    assert abs(_dominant_hz(selected) - 1000) < 20  # the other file's tone, not silence
    # the picture is the chosen layer's, untouched (packets copied), every frame of it
    k = json.loads((folder / "summary.json").read_text())["control"]["selected_output"]

    def pictures(path):
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]

    chosen, other = pictures(folder / f"layer_{k}.mp4"), pictures(folder / f"layer_{1 - k}.mp4")
    got = pictures(selected)
    assert len(got) == len(chosen) and all(np.array_equal(a, b) for a, b in zip(got, chosen,
                                                                                 strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(got, other, strict=True))


def test_no_sound_is_one_line_and_no_output(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["separate", str(files / "mute.mp4"), "-n", str(files / "c3.safetensors"),
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no sound" in err and "--audio FILE" in err and len(err.splitlines()) == 1
    assert not (out / "c3").exists() or not any((out / "c3").iterdir())
    assert main(["separate", str(files / "clip.mp4"), "-n", str(files / "c2.safetensors"),
                 "-o", str(out), "--audio", str(files / "other.mp4")]) == 2
    assert "not controlled by sound" in capsys.readouterr().err
    assert main(["separate", str(files / "clip.mp4"), "-n", str(files / "c3.safetensors"),
                 "-o", str(out), "--audio", str(tmp_path / "missing.wav")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_separator_in_memory_scores_follow_their_layers():
    torch.manual_seed(0)
    model = create_model("c3_tiny", n_outputs=2, **AUDIO).eval()
    sep = Separator(model, segment=8, overlap=0.25, progress=False)
    video = torch.rand(3, 20, 32, 32)
    with pytest.raises(Exception, match="fps= and audio="):
        sep.separate(video)
    layers = sep.separate(video, fps=10, audio=tone(2.0, 440))
    assert layers.shape == (2, 3, 20, 32, 32)
    assert sep.scores.shape == (2,) and sep.selected == int(sep.scores.argmin())

    # stitch carries each segment's scores through the same re-ordering as its layers:
    # a separator that swaps its outputs every other segment scores them consistently
    a, b = torch.zeros(3, 6, 4, 4), torch.ones(3, 6, 4, 4)
    calls = []

    def swapping(segment, spec):
        calls.append(spec)
        if len(calls) % 2:
            return torch.stack([a, b])[:, :, : segment.shape[1]], torch.tensor([0.0, 1.0])
        return torch.stack([b, a])[:, :, : segment.shape[1]], torch.tensor([1.0, 0.0])

    scores: list = []
    segments = [(0, torch.zeros(3, 6, 4, 4), "s0"), (4, torch.zeros(3, 6, 4, 4), "s1"),
                (8, torch.zeros(3, 6, 4, 4), "s2")]
    out = torch.cat(list(stitch(segments, swapping, 2, scores=scores)), 2)
    assert calls == ["s0", "s1", "s2"]
    assert out[0].eq(0).all() and out[1].eq(1).all()  # layer 0 stays the zeros layer
    assert all(s.tolist() == [0.0, 1.0] for s, _ in scores)  # ...and keeps its score


@pytest.mark.parametrize("rate,channels", [(8000, 1), (44100, 2), (48000, 1)])
def test_control_sound_at_any_rate_and_layout(tmp_path, rate, channels):
    from centrifuge.separation.control_sound import load_control_audio

    t = np.arange(int(1.5 * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    sound = np.stack([wave] * channels) if channels == 2 else wave
    path = write_video(tmp_path / "s.mp4", moving_pattern(15, 32, 32, seed=0), 10,
                       audio=sound, audio_rate=rate)
    control = load_control_audio(path)
    assert control.ndim == 1 and abs(len(control) - 24000) < 1600  # 1.5 s at 16 kHz
    spectrum = np.abs(np.fft.rfft(control))
    assert abs(np.fft.rfftfreq(len(control), 1 / 16000)[spectrum.argmax()] - 500) < 10


def test_silent_control_sound_warns_but_separates(files, tmp_path):
    silent = write_video(tmp_path / "quiet.mp4", moving_pattern(20, 32, 48, seed=4), 10,
                         audio=np.zeros(32000, np.float32))
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="silent"):
        assert main(["separate", str(silent), "-n", str(files / "c3.safetensors"),
                     "--segment", "8", "-o", str(out)]) == 0
    summary = json.loads((out / "c3" / "quiet" / "summary.json").read_text())
    assert summary["control"]["silent"] is True


def test_control_accuracy_is_scored_on_blends_with_sound():
    """evaluate/control.py on synthetic scenes with their motion soundtracks (no corpus):
    a tiny C3's accuracy and loss are real numbers in range, chance is the rule's own,
    and a model without control is refused."""
    from centrifuge.errors import ConfigError
    from centrifuge.evaluate.control import evaluate_control, format_control

    torch.manual_seed(0)
    c3 = Separator(create_model("c3_tiny"), precision="fp32", progress=False)
    r = evaluate_control(c3, samples=3, frames=8, size=32, source="synthetic", progress=False)
    assert r.samples == 3 and 0 <= r.accuracy <= 1 and 0 < r.chance < 1
    assert r.loss > 0 and r.identity > 0 and len(r.pairs) == 3
    assert "c3_tiny" in format_control([r], "c3_tiny")
    with pytest.raises(ConfigError, match="needs a C3 model"):
        evaluate_control(Separator("static-layer", progress=False), samples=1,
                         source="synthetic", progress=False)
