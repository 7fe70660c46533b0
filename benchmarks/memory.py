"""Peak memory of ``centrifuge separate`` per method and size, and of ``centrifuge demo``.

    python benchmarks/memory.py                    # every method at 352×288 and 398×224
    python benchmarks/memory.py -n auto --demo     # the default, and make demo

Each run is a fresh process; its peak RSS is its own VmHWM (not ru_maxrss, which Linux
carries across fork + exec from this parent). Videos are written once into ``--work``:
120 frames at 352×288 (the demo's size and length) and 250 frames at 398×224, blends of
two drifting textures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from centrifuge.io import write_video
from centrifuge.precision import cpu_header
from separate import peak_rss, synthetic_frames

# the learned centrifuge-cpu-v3 was measured here until it left the package (README table)
METHODS = ["motion-layers", "static-layer", "static-reflection", "auto"]
SIZES = [(120, 288, 352), (250, 224, 398)]


def demo_rss(out: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of ``centrifuge demo`` (auto on a two-motion blend)."""
    cmd = [sys.executable, "-c",
           "import sys; from centrifuge.cli import main; rc = main(sys.argv[1:]); "
           "print('RSS', next(l.split()[1] for l in open('/proc/self/status') "
           "if l.startswith('VmHWM'))); sys.exit(rc)", "demo", "-o", str(out), "--force"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    rss = int(next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("RSS")))
    return rss / 1024, time.perf_counter() - t


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", "--methods", nargs="+", default=METHODS)
    p.add_argument("--demo", action="store_true", help="also `centrifuge demo`")
    p.add_argument("--work", default="runs/memory", help="where the videos and outputs go")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"{cpu_header()}\n\n| method | video | peak RSS (MiB) | wall (s) |\n|---|---|---|---|")
    videos = []
    for t, h, w in SIZES:
        path = work / f"blend_{w}x{h}_{t}.mp4"
        if not path.exists():
            write_video(path, synthetic_frames(t, h, w), 25)
        videos.append((f"{t} frames {w}×{h}", path))
    for method in args.methods:
        for label, path in videos:
            rss, wall = peak_rss(method, path, work / "out")
            print(f"| {method} | {label} | {rss:.0f} | {wall:.0f} |", flush=True)
    if args.demo:
        rss, wall = demo_rss(work / "demo")
        print(f"| `centrifuge demo` (auto on a two-motion blend, 120 frames 352×288) | — "
              f"| {rss:.0f} | {wall:.0f} |")


if __name__ == "__main__":
    main()
