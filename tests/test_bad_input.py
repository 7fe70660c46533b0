"""Bad and odd inputs found by a new user's try-out (issue 20): each ends in one line and
exit 2, or a warning and an honest result — never a traceback."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from centrifuge.cli import main
from centrifuge.io import write_video
from centrifuge.models import create_model, save_model

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from battery import pattern  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    return str(save_model(tmp_path_factory.mktemp("m") / "tiny.safetensors",
                          create_model("centrifuge_small", widths=[4, 8], groups=4).eval()))


def one_line_exit_2(capsys, *argv) -> str:
    rc = main(list(map(str, argv)))
    err = [ln for ln in capsys.readouterr().err.splitlines()
           if ln.strip() and "separating" not in ln]
    assert rc == 2 and len(err) == 1, err
    return err[0]


@pytest.mark.skipif(sys.platform != "linux", reason="Linux file names are bytes")
def test_a_file_name_that_is_not_utf8(tmp_path, tiny):
    name = os.fsdecode(b"caf\xe9 clip.mp4")  # Latin-1 bytes: a surrogate in Python
    write_video(tmp_path / name, pattern(8, 24, 32), 8)
    assert main(["separate", str(tmp_path / name), "-o", str(tmp_path / "out"), "-n", tiny,
                 "--no-mosaic"]) == 0
    (folder,) = (tmp_path / "out").glob("*/*")
    assert folder.name == "caf_ clip"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["input"]["path"].endswith("clip.mp4")
    assert "caf\\udce9 clip" in (folder / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.corpus
def test_damaged_kinetics_cache_is_rebuilt_or_refused(tmp_path, real_corpus, capsys):
    """The converted I3D weights are a cache of the verified checkpoint: damaged, they
    are converted again; damaged with the checkpoint gone, one line and exit 2."""
    import shutil

    from centrifuge.models.kinetics import kinetics400_state_dict

    root = tmp_path / "corpus"
    (root / "weights").mkdir(parents=True)
    shutil.copy(real_corpus.root / "manifest.json", root)
    for f in (real_corpus.root / "weights").iterdir():
        shutil.copy(f, root / "weights")
    cache = root / "weights" / "i3d-kinetics-400.safetensors"
    kinetics400_state_dict(root)  # a fresh corpus has only the checkpoint: convert first
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    state = kinetics400_state_dict(root)
    assert "Logits.conv3d.weight" in state or len(state) > 100
    cache.write_bytes(b"not safetensors")
    (root / "weights" / "i3d-kinetics-400.ckpt").unlink()
    video = write_video(tmp_path / "v.mp4", pattern(8, 24, 32), 8)
    line = one_line_exit_2(capsys, "classify", video, "--root", root)
    assert "is damaged" in line and "corpus build" in line


class _Unusable(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        from centrifuge.errors import ConfigError

        raise ConfigError("no usable clip among 2 videos; use shorter clips or more videos")


def test_an_error_from_a_dataloader_worker_is_its_own_line():
    from centrifuge.errors import ConfigError, one_line

    loader = torch.utils.data.DataLoader(_Unusable(), num_workers=1)
    with pytest.raises(ConfigError) as e:
        next(iter(loader))
    assert "Original Traceback" in str(e.value)  # what the CLI used to print
    assert one_line(e.value) == "no usable clip among 2 videos; use shorter clips or more videos"
    assert one_line(ConfigError("plain: message")) == "plain: message"


@pytest.mark.parametrize(("content", "message"), [
    (b"path,label\nclip.mp4,caf\xe9\n", r"not UTF-8 text \(byte 23\); save the CSV as UTF-8"),
    (b"clip.mp4,x,zero,1\n", r":1: start and end must be seconds"),
])
def test_a_bad_kinetics_csv_is_one_line(tmp_path, content, message):
    from centrifuge.data.entries import kinetics_entries
    from centrifuge.errors import ConfigError

    csv_path = tmp_path / "list.csv"
    csv_path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as e:
        kinetics_entries(csv_path)
    assert "\n" not in str(e.value)


@pytest.mark.slow
@pytest.mark.corpus  # tiny.yaml trains on the corpus
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_training_on_a_gpu_that_is_not_there(tmp_path, capsys):
    line = one_line_exit_2(capsys, "train", "-c", "tiny", "trainer.accelerator=gpu",
                           "--run-dir", tmp_path / "run")
    assert "trainer settings" in line and "gpu" in line.lower()
    assert not (tmp_path / "run").exists()


def _run_folder(tmp_path, model_name: str, config: object = None):
    """A run folder holding a real Lightning-style checkpoint of ``model_name``."""
    import yaml

    from centrifuge.config import load_config
    from centrifuge.models.registry import create_model as build

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    model = build(model_name)
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "global_step": 3, "hyper_parameters": {"model_name": model_name}},
               run / "checkpoints" / "last.ckpt")
    data = load_config("tiny").to_dict() if config is None else config
    (run / "config.yaml").write_text(yaml.safe_dump(data))
    return run


def test_resume_from_another_models_checkpoint(tmp_path, capsys):
    run = _run_folder(tmp_path, "c2_tiny")  # tiny.yaml trains centrifuge_tiny
    line = one_line_exit_2(capsys, "train", "--resume", run)
    assert "weights of c2_tiny, not of centrifuge_tiny" in line


def test_resume_config_choices_are_clear(tmp_path, capsys):
    run = _run_folder(tmp_path, "centrifuge_tiny")
    line = one_line_exit_2(capsys, "train", "--resume", run, "-c", "tiny")
    assert "--resume reuses" in line and "drop --config tiny" in line
    (run / "config.yaml").write_text("- a\n- list\n")
    line = one_line_exit_2(capsys, "train", "--resume", run)
    assert "a list, not the mapping of sections" in line
    (run / "config.yaml").unlink()
    line = one_line_exit_2(capsys, "train", "--resume", run)
    assert "no config.yaml; pass --config" in line
    from centrifuge.train.run import config_for_resume

    assert config_for_resume(run, [], "tiny").name == "tiny"  # -c fills the gap


def test_a_matroska_file_cut_short_says_what_was_lost(tmp_path, tiny, capsys):
    from battery import sound

    whole = write_video(tmp_path / "whole.mkv", pattern(48, 32, 48), 8, audio=sound(6.0))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 4])
    from centrifuge.io import TruncatedVideoWarning

    with pytest.warns(TruncatedVideoWarning, match=r"cut.mkv: truncated or damaged; \d+ "
                      "frames of the \\d+ its header announces"):
        assert main(["separate", str(cut), "-o", str(tmp_path / "out"), "-n", tiny,
                     "--no-mosaic"]) == 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedVideoWarning)  # the whole file: no warning
        assert main(["separate", str(whole), "-o", str(tmp_path / "out"), "-n", tiny,
                     "--no-mosaic"]) == 0


def test_a_dead_runs_lock_for_another_video_is_cleaned(tmp_path, tiny):
    import subprocess

    clip = write_video(tmp_path / "clip.mp4", pattern(8, 24, 32), 8)
    folder = tmp_path / "out" / "tiny"
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / ".other.lock").write_text(str(dead.pid))  # SIGKILLed while on other.mp4
    (folder / ".busy.lock").write_text(str(os.getpid()))  # a live run's claim stays
    (folder / ".note.lock").write_text("not a pid")  # not ours: never deleted
    assert main(["separate", str(clip), "-o", str(tmp_path / "out"), "-n", tiny,
                 "--no-mosaic"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [".busy.lock", ".note.lock", "clip"]


def test_segment_longer_than_the_clip_and_options_after_dashdash(tmp_path, tiny, capsys):
    clip = write_video(tmp_path / "-clip.mp4", pattern(12, 24, 32), 8)
    out = tmp_path / "out"
    assert main(["separate", "-o", str(out), "-n", tiny, "--segment", "100000",
                 "--no-mosaic", "--", str(clip)]) == 0  # memory for 12 frames, not 100000
    line = one_line_exit_2(capsys, "separate", "-n", tiny, "--", str(clip), "-o", out / "x")
    assert "'-o' is not a file" in line and "before `--`" in line
    assert not (out / "x").exists()


def test_layers_beyond_what_the_model_makes(tmp_path, tiny, capsys):
    clip = write_video(tmp_path / "clip.mp4", pattern(8, 24, 32), 8)
    line = one_line_exit_2(capsys, "separate", clip, "-o", tmp_path / "out", "-n", tiny,
                           "--layers", "99")
    assert "expected 2 or all" in line  # refused as it is parsed, before a model loads
    from centrifuge.errors import CentrifugeError
    from centrifuge.separation.files import separate_file
    from centrifuge.separation.inference import Separator

    with pytest.raises(CentrifugeError, match="makes 2 layers; leave out --layers") as e:
        separate_file(Separator(tiny, progress=False), clip, tmp_path / "out", layers=99)
    assert "all 2" not in str(e.value) and not (tmp_path / "out").exists()


# A child under `ulimit -v`: the guard must see the address-space limit (MemAvailable
# does not), and an allocation that fails anyway must still end in one line.
_UNDER_LIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, resource.RLIM_INFINITY))
if sys.argv[1] == "unguarded":  # as if the guard could not tell: the allocator fails
    import centrifuge.separation.inference as inference
    inference.available_memory = lambda: None
from centrifuge.cli import main
sys.exit(main(["separate", sys.argv[2], "-o", sys.argv[3], "-n", "static-layer",
               "--max-size", "0", "--segment", "4", "--no-report"]))
"""


# the unguarded case (10 s: the allocator really runs out) runs with the slow tests; the
# guarded one keeps the quick suite on the same code
@pytest.mark.parametrize("guard", ["guarded", pytest.param("unguarded", marks=pytest.mark.slow)])
def test_running_out_of_memory_is_one_line_and_leaves_nothing(tmp_path, guard):
    import subprocess

    import numpy as np

    frames = np.zeros((4, 2160, 3840, 3), np.uint8)
    frames[:, ::7] = 200
    clip = write_video(tmp_path / "uhd.mp4", frames, 10)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-c", _UNDER_LIMIT, guard, str(clip), str(out)],
                       capture_output=True, text=True, timeout=300)
    err = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("separating:")]
    assert r.returncode == 2 and len(err) == 1, r.stderr[-2000:]  # no traceback
    assert err[0].startswith("centrifuge: error: ") and "--max-size" in err[0]
    assert ("is free" in err[0]) == (guard == "guarded")  # the guard says what it needs
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
