"""A battery of bad and unusual inputs for ``centrifuge separate``, and the contract every
run must keep: exit 0 with complete outputs, or exit 2 with one line on stderr; nothing
partial left, no input changed, nothing outside the command's own outputs touched.

Used by ``tests/test_robustness.py`` (a fixed battery) and ``benchmarks/fuzz.py``
(random mutations, ``make fuzz``). Every input is generated here, at run time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from centrifuge.cli import main
from centrifuge.io import read_video, write_video

_PROGRESS = re.compile(r"\d+%\|")  # tqdm's bar


def pattern(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = rng.uniform(0.05, 0.2, 3)
    frames = [np.stack([0.5 + 0.4 * np.sin(f[c] * (xx + 2 * i) + f[(c + 1) % 3] * yy)
                        for c in range(3)], -1) for i in range(t)]
    return (np.stack(frames) * 255).round().astype(np.uint8)


def sound(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def write_custom(path: Path, frames, *, codec="libx264", pix_fmt="yuv420p", fps=10,
                 times=None, rotation=None, audio=None, audio_packets=None) -> Path:
    """A video with a chosen codec / pixel format / timing / rotation / audio track."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = pix_fmt
        if times is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            s.set_display_rotation(rotation)
        a = None
        if audio is not None or audio_packets is not None:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            if times is not None:
                vf.pts, vf.time_base = int(times[i] * 1000), Fraction(1, 1000)
            c.mux(s.encode(vf))
        c.mux(s.encode(None))
        if audio is not None:
            af = av.AudioFrame.from_ndarray(audio[None], format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, 0, Fraction(1, 16000)
            c.mux(a.encode(af))
            c.mux(a.encode(None))
        for k in range(audio_packets or 0):  # undecodable sound
            p = av.Packet(bytes(np.random.default_rng(k).integers(0, 256, 200, dtype=np.uint8)))
            p.stream, p.pts, p.dts, p.time_base = a, k * 1024, k * 1024, Fraction(1, 16000)
            c.mux(p)
    return path


@dataclass
class Case:
    name: str
    inputs: list[Path]  # what must not change
    argv: list[str]  # after "separate"; "{out}" is replaced by the output root
    expect: str = "either"  # "ok", "error" or "either"
    message: str = ""  # expected in the error line
    check: object = None  # callable(out_root) for extra checks on success
    setup: object = None  # callable(out_root) run first (e.g. a foreign file)
    keep: list[Path] = field(default_factory=list)  # files that must survive


def _hash(path: Path) -> str | None:
    if not path.exists():
        return None
    if path.is_dir():
        return "dir"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "special"


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def run_case(case: Case, out: Path, model: str) -> tuple[int, list[str], str]:
    """Run one case in this process; returns (status, error lines, problem or "")."""
    if case.setup:
        case.setup(out)
    before = {p: _hash(p) for p in [*case.inputs, *case.keep]}
    tree = _snapshot(out)
    argv = ["separate", *(a.replace("{out}", str(out)) for a in case.argv)]
    if "-n" not in argv:
        argv[1:1] = ["-n", model]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except BaseException as e:  # a traceback is the failure we look for
            return 1, [], f"raised {type(e).__name__}: {e}"
    lines = [ln for ln in err.getvalue().replace("\r", "\n").splitlines()
             if ln.strip() and not _PROGRESS.search(ln) and "warning:" not in ln]
    problem = ""
    for p, h in before.items():
        if _hash(p) != h:
            problem = f"{p} changed"
    if rc == 2:
        if len(lines) != 1:
            problem = problem or f"{len(lines)} error lines: {lines}"
        elif case.message and case.message not in lines[0]:
            problem = problem or f"message {lines[0]!r} lacks {case.message!r}"
        if _snapshot(out) != tree:
            problem = problem or f"left {sorted(_snapshot(out) - tree)}"
        if case.expect == "ok":
            problem = problem or f"failed: {lines}"
    elif rc == 0:
        leftovers = [p for p in _snapshot(out) if re.search(r"\.(partial|old)-\d+|\.lock$", p)]
        if leftovers:
            problem = problem or f"left {leftovers}"
        summaries = list(out.rglob("summary.json"))
        if not summaries:
            problem = problem or "exit 0 without summary.json"
        for s in summaries:
            for layer in s.parent.glob("layer_*.mp4"):
                if len(read_video(layer).frames) == 0:
                    problem = problem or f"{layer} is empty"
        if case.expect == "error":
            problem = problem or "succeeded but should have failed"
        if not problem and case.check:
            problem = case.check(out) or ""
    else:
        problem = problem or f"exit {rc}: {lines}"
    return rc, lines, problem


def build_cases(d: Path) -> list[Case]:
    """The fixed battery, written into folder ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    ok = write_video(d / "ok.mp4", pattern(12, 24, 32), 10, audio=sound(1.2))
    cases = [Case("ok", [ok], [str(ok), "-o", "{out}"], "ok")]

    def add(name, path, expect="either", message="", args=(), **kw):
        cases.append(Case(name, [path], [str(path), "-o", "{out}", *args], expect, message,
                          **kw))

    raw = ok.read_bytes()
    (d / "empty.mp4").write_bytes(b"")
    add("empty file", d / "empty.mp4", "error", "not a readable media file")
    (d / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    add("random bytes", d / "noise.mp4", "error")
    (d / "half.mp4").write_bytes(raw[: len(raw) // 2])
    add("truncated half", d / "half.mp4")
    (d / "head.mp4").write_bytes(raw[:600])
    add("header only", d / "head.mp4", "error")
    flipped = bytearray(raw)
    for k in range(len(raw) // 3, len(raw) // 3 + 400, 7):
        flipped[k] ^= 0xFF
    (d / "flipped.mp4").write_bytes(bytes(flipped))
    add("bit flips", d / "flipped.mp4")
    with av.open(str(d / "tone.wav"), "w") as c:
        s = c.add_stream("pcm_s16le", rate=16000)
        s.layout = "mono"
        af = av.AudioFrame.from_ndarray((sound(1) * 3e4).astype(np.int16)[None],
                                        format="s16", layout="mono")
        af.sample_rate = 16000
        c.mux(s.encode(af))
        c.mux(s.encode(None))
    add("wav (audio only)", d / "tone.wav", "error", "holds audio")
    from PIL import Image

    Image.fromarray(pattern(1, 20, 20)[0]).save(d / "still.png")
    add("a PNG still", d / "still.png")
    for h, w in ((17, 33), (2, 2), (3, 120), (120, 3)):
        p = write_custom(d / f"geom{h}x{w}.mkv", pattern(6, h, w), pix_fmt="yuv444p")
        add(f"{h}x{w}", p, "ok", check=_size_is(h, w))
    for codec, fmt, ext in (("ffv1", "gray", "mkv"), ("libx264", "yuv444p", "mp4"),
                            ("mjpeg", "yuvj420p", "avi"), ("ffv1", "yuv420p10le", "mkv"),
                            ("libx264rgb", "rgb24", "mkv")):
        p = write_custom(d / f"fmt-{fmt}.{ext}", pattern(6, 16, 24), codec=codec, pix_fmt=fmt)
        add(f"pix_fmt {fmt}", p, "ok")
    rot = write_custom(d / "phone.mp4", pattern(6, 16, 24), rotation=90)
    add("rotated 90", rot, "ok", check=_size_is(24, 16))
    times = np.cumsum([0] + [0.05, 0.15] * 5)[:10]
    vfr = write_custom(d / "vfr.mkv", pattern(10, 16, 16), times=times)
    add("variable frame rate", vfr, "ok", check=_times_are(times))
    cut = write_custom(d / "cut-sound.mkv", pattern(20, 16, 16), audio=sound(0.5))
    add("sound shorter than video", cut, "ok")
    broken = write_custom(d / "bad-sound.mkv", pattern(10, 16, 16), audio_packets=12)
    add("undecodable sound", broken, "ok")
    for name in ("...mp4", "..mp4", ".mp4", " spaced .mp4", "vidéo 視頻.mp4", "x" * 240 + ".mp4",
                 "new\nline.mp4", "-dash.mp4"):
        p = d / name
        p.write_bytes(raw)
        args = ["--force"] if name.startswith(".") else []
        cases.append(Case(f"name {name[:20]!r}", [p], ["-o", "{out}", *args, "--", str(p)]
                          if name.startswith("-") else [str(p), "-o", "{out}", *args], "ok",
                          check=_inside_model_folder))
    fifo = d / "pipe.mp4"
    if not fifo.exists():
        os.mkfifo(fifo)
    add("a FIFO", fifo, "error", "not a regular file")
    empty = d / "no-videos"
    empty.mkdir(exist_ok=True)
    (empty / "readme.txt").write_text("no video here")
    add("a folder without videos", empty, "error", "no video files")
    cases.append(Case("-o is the input", [ok], [str(ok), "-o", str(ok)], "error", "is a file"))
    cases.append(Case("-o under a file", [ok], [str(ok), "-o", str(ok / "sub")], "error"))
    huge = write_custom(d / "8k.mp4", np.full((2, 4320, 7680, 3), 90, np.uint8))
    # 2 frames of 8K need ~16 GiB by the estimate (which counts the frames a clip has):
    # separated where that is free, else refused with the fix
    add("--max-size 0 on 8K", huge, "either", "--max-size", args=["--max-size", "0"])

    def foreign(out):
        folder = out / "tiny" / "ok"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "notes.txt").write_text("mine")

    cases.append(Case("--force keeps foreign files", [ok], [str(ok), "-o", "{out}", "--force"],
                      "error", "did not write", setup=foreign))
    return cases


def _size_is(h, w):
    def check(out):
        for layer in out.rglob("layer_0.mp4"):
            got = read_video(layer).frames.shape[1:3]
            if got != (h, w):
                return f"layer is {got}, input {h}x{w}"
        return ""
    return check


def _times_are(times):
    def check(out):
        for layer in out.rglob("layer_0.mp4"):
            with av.open(str(layer)) as c:
                got = [f.time for f in c.decode(video=0)]
            if not np.allclose(got, times, atol=0.002):
                return f"times {got} != {list(times)}"
        return ""
    return check


def _inside_model_folder(out):
    folders = [p for p in out.rglob("summary.json")]
    for s in folders:
        if s.parent.parent.parent != out:
            return f"{s} is not <out>/<model>/<name>/summary.json"
    return ""
