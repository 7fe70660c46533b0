"""Separation speed, memory and seams of the default model: ``python benchmarks/separate.py``.

1. frames/s of :class:`Separator` at 112² and 224² (segment 32, overlap 0.25), fp32 vs
   bf16 autocast;
2. the whole ``centrifuge separate`` against the model alone on a 250-frame 398×224
   clip with sound (frames/s and their ratio), and the CPU time of each of its stages
   (decode, model, statistics, conversion, sound, x264), which bounds that ratio;
3. peak RSS of ``centrifuge separate`` on a 10-second and a 10-minute 224p video with
   stereo sound (written once into ``--work``); it must stay flat with length;
4. seam error: on a blend of two corpus val clips separated in short segments, the mean
   frame-to-frame change of the layers over segment transitions (the last frame of a
   segment through the cross-faded frames) divided by the change elsewhere (1.0 = seams
   invisible), with and without layer re-ordering.

    python benchmarks/separate.py                 # all three (the 10-min run takes a while)
    python benchmarks/separate.py --skip-memory   # speed and seams only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from centrifuge.io import VideoWriter, frames_to_tensor, read_video
from centrifuge.precision import cpu_header, resolve_precision
from centrifuge.separation.inference import Separator, stitch


def synthetic_frames(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Two drifting textures blended: cheap, deterministic test content."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((t, h, w, 3), np.uint8)
    f = rng.uniform(0.02, 0.1, size=(2, 3, 2))
    for i in range(t):
        a = sum(np.sin(f[0, c, 0] * (xx + 2 * i) + f[0, c, 1] * yy) for c in range(3)) / 3
        b = sum(np.sin(f[1, c, 0] * xx + f[1, c, 1] * (yy - 3 * i)) for c in range(3)) / 3
        img = np.stack([0.5 + 0.25 * a + 0.2 * b * (c - 1) for c in range(3)], -1)
        out[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return out


def speed(model: str, reps: int) -> None:
    """frames/s, and for bf16 the executed GFLOP/s (overlapping frames included) as a
    share of this machine's bf16 matmul peak."""
    from torch.utils.flop_counter import FlopCounterMode

    from models import matmul_peak  # benchmarks/models.py, beside this script

    # bf16 only where native: emulated, one 64-frame clip takes many minutes, and the
    # peak's bf16 kernels alone ran past 10 minutes on an AVX2-only CPU (tenth session)
    native = resolve_precision("auto", "cpu").name == "bf16"
    peak = matmul_peak(torch.device("cpu"), verbose=True) if native else float("nan")
    if native:
        print(f"bf16 peak (fastest of these): {peak:.0f} GFLOP/s\n")
    else:
        print("bf16 emulated here: its peak and bf16 rows are not measured\n")
    print("| clip | precision | frames/s | executed GFLOP per frame | % of bf16 peak |")
    print("|---|---|---|---|---|")
    for size in (112, 224):
        frames = frames_to_tensor(synthetic_frames(64, size, size))
        for precision in ("auto", "fp32", "bf16") if native else ("auto", "fp32"):
            sep = Separator(model, precision=precision, segment=32, overlap=0.25,
                            progress=False)
            sep.separate(frames[:, :32])  # warm-up
            with FlopCounterMode(display=False) as counter:
                sep.separate(frames)
            gflop = counter.get_total_flops() / 1e9 / frames.shape[1]
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                sep.separate(frames)
                times.append(time.perf_counter() - t)
            fps = frames.shape[1] / np.median(times)
            share = f"{100 * gflop * fps / peak:.0f} %" if sep.precision == "bf16" else "—"
            label = f"auto ({sep.precision})" if precision == "auto" else precision
            print(f"| 64×{size}² | {label} | {fps:.1f} | {gflop:.2f} | {share} |",
                  flush=True)


def write_long_video(path: Path, seconds: float, fps: int = 25, size=(224, 398)) -> None:
    """Drifting textures with a stereo 44.1 kHz soundtrack, written piece by piece."""
    if path.exists():
        return
    block = synthetic_frames(50, *size)
    rate = 44100
    t = np.arange(int(rate * len(block) / fps)) / rate
    tone = np.stack([0.2 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)])
    with VideoWriter(path, fps, preset="ultrafast", audio_rate=rate, audio_channels=2) as w:
        for i in range(int(seconds * fps) // len(block)):
            w.write(block if i % 2 == 0 else block[::-1])
            w.write_audio(tone.astype(np.float32))


def pipeline(model: str, work: Path, reps: int = 3) -> None:
    """The whole command against the model alone, on a 250-frame 398×224 clip with sound,
    interleaved ``reps`` times (the VM's speed drifts; medians of runs side by side)."""
    import json

    from centrifuge.cli import main as cli

    work.mkdir(parents=True, exist_ok=True)
    video = work / "clip_10s.mp4"
    write_long_video(video, 10)
    frames = frames_to_tensor(read_video(video).frames)
    sep = Separator(model, progress=False)
    sep.separate(frames[:, :32])  # warm-up
    runs = {"model": [], "all": [], "no-mosaic": []}
    for _ in range(reps):
        t = time.perf_counter()
        sep.separate(frames)
        runs["model"].append(frames.shape[1] / (time.perf_counter() - t))
        for key, extra in (("all", []), ("no-mosaic", ["--no-mosaic"])):
            out = work / "pipe"
            cli(["separate", str(video), "-o", str(out), "-n", model, "--force",
                 *extra])
            summary = json.loads(next(out.rglob("clip_10s/summary.json")).read_text())
            runs[key].append(summary["timings_s"]["frames_per_s"])
    fps = {k: float(np.median(v)) for k, v in runs.items()}
    print(f"| run (median of {reps}) | frames/s | / model alone |")
    print("|---|---|---|")
    for key, label in (("model", "model alone (`Separator.separate` on decoded frames)"),
                       ("all", "`centrifuge separate` (layers, mosaic, contact, report)"),
                       ("no-mosaic", "`centrifuge separate --no-mosaic`")):
        print(f"| {label} | {fps[key]:.1f} | {fps[key] / fps['model']:.2f} |", flush=True)


def encode_profile(model: str, work: Path, block: int = 32) -> None:
    """CPU seconds of each stage of ``centrifuge separate`` on the 250-frame clip, run one
    after another in this process (``time.process_time``: every thread, x264's too).
    The command overlaps them, but on a CPU the model saturates, whatever decoding and
    encoding cost comes out of the model's time: model / (model + the rest) is the
    ceiling of the pipeline ratio above."""
    from centrifuge.io import AudioStream, iter_chunks, tensor_to_frames
    from centrifuge.io.writer import SoundEncoder
    from centrifuge.separation.selection import LayerStats
    from centrifuge.separation.sinks import ContactSheet, Mosaic, Mp4Layer

    work.mkdir(parents=True, exist_ok=True)
    video = work / "clip_10s.mp4"
    write_long_video(video, 10)
    cpu: dict[str, float] = {}

    def clock(key, fn, *args):
        t = time.process_time()
        out = fn(*args)
        cpu[key] = cpu.get(key, 0.0) + time.process_time() - t
        return out

    chunks = clock("decode (frames → tensors)", lambda: [
        (start, frames_to_tensor(f)) for start, f, _ in
        iter_chunks(video, 32, 8, size=(224, 398), times=True)])
    frames = torch.cat([c[:, 8 if s else 0:] for s, c in chunks], dim=1)
    sep = Separator(model, progress=False)
    sep.separate(frames[:, :32])  # warm-up
    layers = clock("model (`Separator.separate`)", sep.separate, frames)
    n, t = layers.shape[0], frames.shape[1]
    sound = AudioStream(video)
    fps = 25.0
    out = work / "profile"
    out.mkdir(exist_ok=True)
    aac = SoundEncoder(sound.rate, sound.channels)
    sinks = [Mp4Layer(out / f"layer_{i}.mp4", fps, aac) for i in range(n)]
    mosaic = Mosaic(out / "mosaic.mp4", fps, (224, 398), n, aac)
    contact = ContactSheet(t, (224, 398), ["input"] + [f"output {i}" for i in range(n)])
    stats = LayerStats(n)

    def previews(tiles, times, packets):
        mosaic.write(tiles, times, packets)
        contact.write(tiles, times)

    x264_layers = f"x264 layers ({n}, {sinks[0].preset} crf {sinks[0].crf})"
    x264_mosaic = f"x264 mosaic ({mosaic.preset} crf {mosaic.crf}) + contact sheet"
    for k in range(0, t, block):
        b, src = layers[:, :, k : k + block], frames[:, k : k + block]
        times = np.arange(k, k + b.shape[2]) / fps
        clock("statistics", stats.update, b, src)
        tiles = clock("float → uint8", lambda x: [tensor_to_frames(y) for y in x], [src, *b])
        wave = clock("sound: decode", sound.read_until, times[-1] + 1 / fps)
        packets = clock("sound: one AAC encode", aac.encode, wave)
        for i, sink in enumerate(sinks):
            clock(x264_layers, sink.write, tiles[1 + i], times, packets)
        clock(x264_mosaic, previews, tiles, times, packets)
    tail = aac.encode(None)
    for sink in [*sinks, mosaic]:
        clock(x264_mosaic if sink is mosaic else x264_layers, sink.close, tail)
    sound.close()
    model_s = cpu.pop("model (`Separator.separate`)")
    rest = sum(cpu.values())
    print(f"| stage ({t} frames, 398×224, stereo sound) | CPU s | / model CPU s |")
    print("|---|---|---|")
    print(f"| model (`Separator.separate`) | {model_s:.1f} | 1.00 |")
    for key, value in cpu.items():
        print(f"| {key} | {value:.2f} | {value / model_s:.3f} |")
    print(f"| everything but the model | {rest:.1f} | {rest / model_s:.3f} |")
    print(f"\nceiling of the pipeline ratio on a saturated CPU: model / (model + the rest) = "
          f"{model_s / (model_s + rest):.2f}", flush=True)


def peak_rss(model: str, video: Path, out: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of `centrifuge separate` in a fresh process."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork + exec, so a child of this
    # (by then large) process would report the parent's peak as its own.
    cmd = [sys.executable, "-c",
           "import sys; from centrifuge.cli import main; rc = main(sys.argv[1:]); "
           "print('RSS', next(l.split()[1] for l in open('/proc/self/status') "
           "if l.startswith('VmHWM'))); sys.exit(rc)",
           "separate", str(video), "-o", str(out), "-n", model, "--force"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    rss_kib = int(next(line.split()[1] for line in proc.stdout.splitlines()
                       if line.startswith("RSS")))
    return rss_kib / 1024, wall


def memory(model: str, work: Path, long_s: int = 600) -> None:
    work.mkdir(parents=True, exist_ok=True)
    print("| video | frames | peak RSS (MiB) | wall (s) |")
    print("|---|---|---|---|")
    for label, seconds in (("10 s, 398×224, stereo sound", 10),
                           (f"{long_s / 60:g} min, 398×224, stereo sound", long_s)):
        video = work / f"long_{seconds}s.mp4"
        write_long_video(video, seconds)
        rss, wall = peak_rss(model, video, work / "out")
        print(f"| {label} | {seconds * 25} | {rss:.0f} | {wall:.0f} |", flush=True)


def seam_error(model: str, segment: int, overlap: float) -> None:
    from centrifuge.data.corpus import Corpus

    corpus = Corpus.load()
    a = read_video(corpus.path("psychopy-talk"), num_frames=96, size=(112, 112)).frames
    b = read_video(corpus.path("city-night"), num_frames=96, size=(112, 112)).frames
    mix = frames_to_tensor(((a.astype(np.float32) + b) / 2).astype(np.uint8))
    sep = Separator(model, segment=segment, overlap=overlap, progress=False)
    print(f"| re-ordering | boundary / inside change (segment {segment}, "
          f"overlap {sep.overlap_frames}) |")
    print("|---|---|")
    for reorder in (True, False):
        out = torch.cat(list(stitch(sep.segments(mix), sep.separate_segment,
                                    sep.overlap_frames, reorder=reorder)), dim=2)
        change = (out[:, :, 1:] - out[:, :, :-1]).abs().mean(dim=(0, 1, 3, 4))  # per frame step
        step = segment - sep.overlap_frames
        # transitions: the frame steps from the last frame of segment k-1 alone through
        # the cross-faded frames shared with segment k
        mask = torch.zeros(len(change), dtype=torch.bool)
        for s in range(step, mix.shape[1] - 1, step):
            mask[max(0, s - 1) : s + sep.overlap_frames] = True
        ratio = float(change[mask].mean() / change[~mask].mean())
        print(f"| {'on' if reorder else 'off'} | {ratio:.2f} |", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--model", default="default")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "centrifuge-bench")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-seams", action="store_true")
    p.add_argument("--skip-pipeline", action="store_true")
    p.add_argument("--skip-profile", action="store_true")
    p.add_argument("--long-seconds", type=int, default=600,
                   help="length of the long video of the memory test (600)")
    args = p.parse_args(argv)
    print(f"{cpu_header()}, {os.cpu_count()} CPUs, model {args.model}, "
          f"precision auto → {resolve_precision('auto', 'cpu').name}\n")
    if not args.skip_speed:
        speed(args.model, args.reps)
        print()
    if not args.skip_pipeline:
        pipeline(args.model, args.work, args.reps)
        print()
    if not args.skip_profile:
        encode_profile(args.model, args.work)
        print()
    if not args.skip_memory:
        memory(args.model, args.work, args.long_seconds)
        print()
    if not args.skip_seams:
        seam_error(args.model, segment=16, overlap=0.25)


if __name__ == "__main__":
    main()
