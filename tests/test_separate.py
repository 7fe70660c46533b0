"""`centrifuge separate` end to end with a tiny model on tiny clips written here."""

import json

import av
import numpy as np
import pytest
import torch

from centrifuge.cli import main
from centrifuge.io import probe, read_video, write_video
from centrifuge.models import create_model, save_model

from conftest import moving_pattern, tone


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return save_model(path, create_model("centrifuge_tiny").eval())


@pytest.fixture
def clip(tmp_path):
    """21 frames of 37×50 (odd sizes) with sound."""
    frames = moving_pattern(21, 37, 50)
    return write_video(tmp_path / "in put.mp4", frames, fps=10, audio=tone(2.1))


def run(*args):
    return main(["separate", *map(str, args)])


def test_cli_separates_a_clip(clip, tiny_ckpt, tmp_path):
    out = tmp_path / "sep"
    assert run(clip, "-o", out, "-n", tiny_ckpt, "--segment", "8", "--overlap", "0.25") == 0
    folder = out / "tiny" / "in put"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["contact.png", "layer_0.mp4", "layer_1.mp4", "layer_2.mp4", "layer_3.mp4",
                     "mosaic.mp4", "report.html", "summary.json"]
    for i in range(4):
        info = probe(folder / f"layer_{i}.mp4")
        assert (info.num_frames, info.width, info.height) == (21, 50, 37)  # the input's size
        assert info.has_audio
    mosaic = probe(folder / "mosaic.mp4")
    assert mosaic.num_frames == 21 and mosaic.width == 5 * 50 and mosaic.has_audio
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["input"]["frames"] == 21 and summary["settings"]["segment"] == 8
    assert len(summary["layers"]) == 4 and summary["timings_s"]["frames_per_s"] > 0
    from PIL import Image

    sheet = Image.open(folder / "contact.png")  # labels left and on top of 4 × 5 pictures
    assert sheet.size[0] > 4 * 50 and sheet.size[1] > 5 * 37
    assert not list(out.glob("tiny/.*")), "temporary folder left behind"


@pytest.mark.parametrize("rule", ["recompose", "dissimilar"])
def test_layers_2_keeps_the_pair_the_rule_picks(clip, tiny_ckpt, tmp_path, rule):
    from centrifuge.separation.selection import PairStats

    out = tmp_path / "sep"
    assert run(clip, "-o", out / "all", "-n", tiny_ckpt, "--segment", "8") == 0
    assert run(clip, "-o", out / "two", "-n", tiny_ckpt, "--segment", "8", "--layers", "2",
               "--select", rule) == 0
    folder = out / "two" / "tiny" / "in put"
    assert sorted(p.name for p in folder.glob("layer_*")) == ["layer_0.mp4", "layer_1.mp4"]
    summary = json.loads((folder / "summary.json").read_text())
    sel = summary["selection"]
    kept = sel["kept_outputs"]
    assert sel["rule"] == rule and len(kept) == 2 and kept[0] < kept[1]
    # the rule applied to the statistics the summary records gives the kept pair
    stats = PairStats(4)
    stats.abs = torch.tensor(sel["distance"], dtype=torch.float64)
    stats.count = 1
    if rule == "dissimilar":
        assert tuple(kept) == stats.pick("dissimilar")
    else:
        err = torch.tensor(sel["recomposition_mse"], dtype=torch.float64)
        err = torch.minimum(err, err.T)
        d = stats.distance()
        ok = (d >= 0.5 * d.max()) & ~torch.eye(4, dtype=torch.bool)
        best = min(((i, j) for i in range(4) for j in range(i + 1, 4) if ok[i, j]),
                   key=lambda p: float(err[p]))
        assert tuple(kept) == best
    # and the kept files are those outputs of the full run (up to encoding noise), not
    # any of the others
    full = out / "all" / "tiny" / "in put"
    every = [read_video(full / f"layer_{i}.mp4").frames.astype(np.float32) for i in range(4)]
    for new, old in enumerate(kept):
        a = read_video(folder / f"layer_{new}.mp4").frames.astype(np.float32)
        diffs = [float(np.abs(a - b).mean()) for b in every]
        assert diffs[old] < 1.0 and diffs[old] == min(diffs), diffs
    assert probe(folder / "mosaic.mp4").width == 5 * 50  # the input and every output


def test_refuses_to_overwrite_without_force(clip, tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "sep"
    assert run(clip, "-o", out, "-n", tiny_ckpt, "--segment", "8") == 0
    before = (out / "tiny" / "in put" / "summary.json").read_text()
    assert run(clip, "-o", out, "-n", tiny_ckpt, "--segment", "8") == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "tiny" / "in put" / "summary.json").read_text() == before
    assert run(clip, "-o", out, "-n", tiny_ckpt, "--segment", "8", "--force") == 0


def test_never_deletes_its_input(tiny_ckpt, tmp_path, capsys):
    folder = tmp_path / "sep" / "tiny" / "clip"
    folder.mkdir(parents=True)
    inside = write_video(folder / "clip.mp4", moving_pattern(8, 16, 16), fps=10)
    assert run(inside, "-o", tmp_path / "sep", "-n", tiny_ckpt, "--force") == 2
    assert "holds the input" in capsys.readouterr().err
    assert inside.is_file()


def test_video_without_sound(tmp_path, tiny_ckpt):
    silent = write_video(tmp_path / "silent.mp4", moving_pattern(9, 32, 32), fps=10)
    assert run(silent, "-o", tmp_path / "o", "-n", tiny_ckpt, "--segment", "8") == 0
    assert not probe(tmp_path / "o" / "tiny" / "silent" / "mosaic.mp4").has_audio


def test_max_size_downscales(tmp_path, tiny_ckpt):
    big = write_video(tmp_path / "big.mp4", moving_pattern(6, 64, 96), fps=10)
    assert run(big, "-o", tmp_path / "o", "-n", tiny_ckpt, "--max-size", "48") == 0
    info = probe(tmp_path / "o" / "tiny" / "big" / "layer_0.mp4")
    assert (info.width, info.height) == (48, 32)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mp4"], "no such file"),
        (["garbage.mp4"], "not a readable media file"),
        (["ok.mp4", "-n", "no-such-model"], "unknown model"),
        (["ok.mp4", "--segment", "0"], "positive"),
        (["ok.mp4", "--segment", "1"], "at least 2"),
        (["ok.mp4", "--device", "tpu"], "use cpu or cuda"),
        (["ok.mp4", "--device", ""], "use cpu or cuda"),
        (["ok.mp4", "--device", "mps"], "use cpu or cuda"),
        (["ok.mp4", "--max-size", "3"], "at least 16"),
        (["ok.mp4", "--max-size", "-1"], "0 (never downscale)"),
        (["ok.mp4", "--format", "gif"], "invalid choice"),
        (["ok.mp4", "--overlap", "0.9"], "between 0 and 0.5"),
        (["ok.mp4", "--layers", "3"], "expected 2 or all"),
        (["ok.mp4", "--device", "cuda"], "no CUDA GPU"),
        (["ok.mp4", "-n", "fake.safetensors"], "not a safetensors checkpoint"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(args, message, tmp_path, tiny_ckpt,
                                                      capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.mp4").write_bytes(b"\x00\x01" * 999)
    (tmp_path / "fake.safetensors").write_bytes(b"nope" * 99)
    write_video(tmp_path / "ok.mp4", moving_pattern(4, 16, 16), fps=10)
    if "-n" not in args:
        args = [*args, "-n", str(tiny_ckpt)]
    if "--device" in args and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert run(*args, "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.mp4"))


def test_list_models(capsys):
    assert main(["separate", "--list-models"]) == 0
    assert "default" in capsys.readouterr().out


def test_unreadable_output_files_do_not_survive_a_failure(tmp_path, tiny_ckpt, monkeypatch):
    clip = write_video(tmp_path / "c.mp4", moving_pattern(20, 16, 16), fps=10)
    import centrifuge.separation.files as sep_module

    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sep_module, "write_report", broken)
    with pytest.raises(RuntimeError):
        main(["separate", str(clip), "-o", str(tmp_path / "o"), "-n", str(tiny_ckpt)])
    assert not (tmp_path / "o").exists(), "a failed run leaves no folder it created"


def test_layer_video_frames_decode(clip, tiny_ckpt, tmp_path):
    out = tmp_path / "sep"
    assert run(clip, "-o", out, "-n", tiny_ckpt, "--segment", "8") == 0
    frames = read_video(out / "tiny" / "in put" / "layer_1.mp4").frames
    assert frames.shape == (21, 37, 50, 3)
    with av.open(str(out / "tiny" / "in put" / "mosaic.mp4")) as c:
        assert c.streams.audio[0].codec_context.name == "aac"


def test_an_odd_sized_420_input_comes_back_at_its_exact_size(tmp_path):
    """Issue 36 reported a 33×17 4:2:0 video coming back 32×16. An odd-sized 4:2:0 file
    (MPEG-4 Part 2 writes one; H.264 cannot) is separated here and each output probed: the
    layers are 33×17, in 4:4:4 (which holds any size). It passes on the code the issue
    was filed against too: the report could not be reproduced (issue note)."""
    src = tmp_path / "odd.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("mpeg4", rate=8)
        s.width, s.height, s.pix_fmt = 33, 17, "yuv420p"
        for frame in moving_pattern(12, 17, 33):
            for packet in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    assert probe(src).width == 33 and probe(src).height == 17
    assert main(["separate", str(src), "-o", str(tmp_path / "out"), "-n", "static-layer",
                 "--no-report"]) == 0
    folder = tmp_path / "out" / "static-layer" / "odd"
    for name in ("layer_0.mp4", "layer_1.mp4"):
        info = probe(folder / name)
        assert (info.width, info.height) == (33, 17) and info.pix_fmt == "yuv444p"
