"""`centrifuge separate` (and friends) against bad and unusual inputs: every case ends in
exit 0 with complete, faithful output or exit 2 with one line; nothing partial, nothing
overwritten. The battery lives in ``helpers/battery.py`` (``make fuzz`` mutates it)."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from centrifuge.cli import main
from centrifuge.io import write_video
from centrifuge.models import create_model, save_model

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from battery import build_cases, pattern, run_case, sound  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    return str(save_model(tmp_path_factory.mktemp("m") / "tiny.safetensors",
                          create_model("centrifuge_tiny", n_outputs=2).eval()))


@pytest.mark.slow
def test_the_battery(tmp_path, tiny):
    problems = []
    for i, case in enumerate(build_cases(tmp_path / "in")):
        rc, lines, problem = run_case(case, tmp_path / f"out{i}", tiny)
        if problem:
            problems.append(f"{case.name}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def clip(tmp_path):
    return write_video(tmp_path / "clip.mp4", pattern(12, 24, 32), 10, audio=sound(1.2))


def one_line_exit_2(capsys, *argv):
    rc = main(list(map(str, argv)))
    err = [ln for ln in capsys.readouterr().err.splitlines()
           if ln.strip() and "separating" not in ln]
    assert rc == 2 and len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(("where", "code"), [("mkdir", errno.EROFS), ("contact", errno.ENOSPC),
                                              ("encode", errno.ENOSPC), ("rename", errno.EIO)])
def test_file_system_faults(tmp_path, clip, tiny, capsys, monkeypatch, where, code):
    import centrifuge.safe_writes as outputs
    import centrifuge.separation.sinks as sinks
    from centrifuge.io import writer

    def fail(*a, **k):
        raise OSError(code, os.strerror(code), str(tmp_path / "out"))

    if where == "mkdir":
        monkeypatch.setattr(Path, "mkdir", fail)
    elif where == "contact":
        monkeypatch.setattr(sinks.Image.Image, "save", fail)
    elif where == "encode":
        monkeypatch.setattr(writer.av.VideoFrame, "from_ndarray", fail)
    else:
        real = os.replace
        monkeypatch.setattr(outputs.os, "replace", lambda a, b: fail() if Path(b).name == "clip"
                            else real(a, b))
    line = one_line_exit_2(capsys, "separate", clip, "-o", tmp_path / "out", "-n", tiny)
    assert "Traceback" not in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


def test_a_live_claim_refuses_a_second_writer_and_a_dead_one_is_cleaned(tmp_path, clip, tiny,
                                                                         capsys):
    model = tmp_path / "out" / "tiny"
    model.mkdir(parents=True)
    (model / ".clip.lock").write_text(str(os.getppid()))  # a live process holds it
    line = one_line_exit_2(capsys, "separate", clip, "-o", tmp_path / "out", "-n", tiny)
    assert "is writing" in line and not (model / "clip").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (model / ".clip.lock").write_text(str(dead.pid))
    stale = model / f".other.partial-{dead.pid}"
    stale.mkdir()
    (stale / "layer_0.mp4").write_bytes(b"half")
    assert main(["separate", str(clip), "-o", str(tmp_path / "out"), "-n", tiny]) == 0
    assert sorted(p.name for p in model.iterdir()) == ["clip"], "stale claim and partial gone"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_signals_leave_nothing_partial(tmp_path, tiny, sig):
    long_clip = write_video(tmp_path / "long.mp4", pattern(400, 64, 64), 25)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "centrifuge", "separate", str(long_clip), "-o", str(out),
           "-n", tiny, "--segment", "8"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(out.glob("tiny/.long.partial-*")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130
        assert not (out / "tiny" / "long").exists() and not list(out.rglob(".*"))
    else:  # nothing can clean up after SIGKILL: the next run does
        assert list(out.glob("tiny/.long.partial-*"))
        assert main(["separate", str(long_clip), "-o", str(out), "-n", tiny]) == 0
        assert sorted(p.name for p in (out / "tiny").iterdir()) == ["long"]


def test_same_named_inputs_never_reach_outside(tmp_path, tiny):
    out = tmp_path / "out"
    (out / "tiny" / "keep").mkdir(parents=True)
    (out / "tiny" / "keep" / "summary.json").write_text("{}")  # another video's result
    (out / "precious.txt").write_text("mine")
    for name in ("...mp4", "..mp4"):
        write_video(tmp_path / name, pattern(6, 16, 16), 10)
        assert main(["separate", str(tmp_path / name), "-o", str(out), "-n", tiny,
                     "--force"]) == 0
    assert (out / "precious.txt").read_text() == "mine"
    assert (out / "tiny" / "keep" / "summary.json").read_text() == "{}"


@pytest.mark.parametrize("edit", ["model_args_list", "version_text", "huge_width"])
def test_damaged_checkpoint_metadata(tmp_path, tiny, clip, capsys, edit):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(tiny, "pt") as f:
        meta, state = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    args = json.loads(meta["model_args"])
    change = {"model_args_list": {"model_args": "[1, 2]"},
              "version_text": {"format_version": "one"},
              "huge_width": {"model_args": json.dumps({**args, "width": 1e6})}}[edit]
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad), metadata={**meta, **change})
    line = one_line_exit_2(capsys, "separate", clip, "-n", bad, "-o", tmp_path / "o")
    assert str(bad) in line


def test_other_commands_refuse_cleanly(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "input of this command" in one_line_exit_2(
        capsys, "evaluate", "-n", tiny, "--json", tiny)
    assert "does not exist" in one_line_exit_2(
        capsys, "export", tiny, tmp_path / "missing" / "m.safetensors")
    assert "seconds" in one_line_exit_2(capsys, "classify", "x.mp4", "--start", "inf")
    assert "at least 16" in one_line_exit_2(capsys, "evaluate", "--size", "1")
    for bad in ("data.batch_size=0", "trainer.val_every=0", "trainer.max_steps=0",
                "trainer.precision=foo", "optim.lr=-1", "model.args.width=1e6"):
        one_line_exit_2(capsys, "train", "-c", "tiny", "--out", tmp_path / "runs", bad)
    assert not (tmp_path / "runs").exists()


def test_several_inputs_one_failure(tmp_path, tiny, clip, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"nope")
    rc = main(["separate", str(clip), str(tmp_path / "broken.mp4"), "-o", str(tmp_path / "o"),
               "-n", tiny])
    captured = capsys.readouterr()
    assert rc == 2 and "1 of 2 videos failed" in captured.err
    assert (tmp_path / "o" / "tiny" / "clip" / "summary.json").is_file()
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("a.mp4", "b.mkv"):
        write_video(folder / name, pattern(6, 16, 16), 10)
    (folder / "notes.txt").write_text("skip me")
    assert main(["separate", str(folder), "-o", str(tmp_path / "o2"), "-n", tiny]) == 0
    assert sorted(p.name for p in (tmp_path / "o2" / "tiny").iterdir()) == ["a", "b"]
