"""Can a sound pick its layer without training? Audio-visual synchrony on two-motion blends.

    python benchmarks/sound_pick.py --split train     # where the rule's settings were chosen
    python benchmarks/sound_pick.py                   # val: the figure in issue 37's note

Each blend is a ``two-motion`` pair (:class:`~centrifuge.data.two_motion.TwoMotionPairs`,
each clip through its own camera) whose first clip V¹ has sound; the sound is V¹'s. The
rule (Hershey & Movellan, NIPS 1999: what moves when the sound changes) scores each layer
by how its motion energy follows the sound's loudness: the layer is held still along its
own dominant motion (phase correlation and Lucas–Kanade, as ``motion-layers`` tracks a
layer), its frame-to-frame change ``|Δ|`` is pooled over 8×8-pixel cells, each cell's
series is correlated with the sound's RMS per video frame, and the layer's score is the
mean of its :data:`TOP` best cells (what makes a sound is a small part of a frame — a
mouth, a hand — and the mean over all cells drowned it); the pick is the higher score. A
pick is correct when the picked output is V¹'s under the best assignment of outputs to
clips (PIT).

Rows: the rule on the **true layers** (a perfect separation: does the rule work at all?)
and, as a control, with the sound played backwards (out of step with every motion: a
pick that still finds V¹ finds it by something else — the val blends' second clips are
all one sequence, so "the face" alone could score),
on the **default's outputs** (``auto`` through ``Separator``, as ``centrifuge separate``
runs it: 32-frame segments, their layers put in one order over the clip), the trained
**C3** (``c3-cpu-v1``, its own control scores; with the sound backwards too) on the
same blends, and chance (50 %).
Blends where no segment of ``auto``'s separates (its input as both layers) count as half
right: both outputs are the same.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from centrifuge.data.entries import make_entries
from centrifuge.data.two_motion import TwoMotionPairs
from centrifuge.io.audio import control_spectrogram
from centrifuge.losses import pairwise_loss
from centrifuge.ops.homography import sample
from centrifuge.ops.tracking import clip_velocities, guided_motion, to_grey
from centrifuge.precision import cpu_header
from centrifuge.separation.inference import Separator

CELL = 8
SEED = 37
# Cells a layer's score averages (true layers, 160 frames × 64²; train, 24 blends: the mean
# over all cells 62 %, the best cell 58 %, the best 5 67 % — tied with the onset envelope's
# best 1 / 5 / tenth of the cells; at 64 frames every rule was 42–67 % on train and
# 44–62 % on val: too short a clip for synchrony to show)
TOP = 5


def loudness(wave: np.ndarray, frames: int) -> torch.Tensor:
    """The sound's RMS over each video frame's share of ``wave`` ``(frames,)``."""
    edges = np.linspace(0, len(wave), frames + 1).astype(int)
    return torch.tensor([float(np.sqrt(np.mean(wave[a:b] ** 2) + 1e-12)) if b > a else 0.0
                         for a, b in zip(edges[:-1], edges[1:], strict=True)])


def held_still(layer: torch.Tensor) -> torch.Tensor:
    """``(T, H, W)`` grey frames of ``layer`` ``(3, T, H, W)`` along its own dominant motion,
    in its middle frame's coordinates."""
    grey = to_grey(layer)
    velocity, _ = clip_velocities(grey, 1, 4)
    motion, _ = guided_motion(grey, velocity[0])
    frames = torch.from_numpy(grey).float()[:, None] / 255
    return sample(frames, torch.linalg.inv(motion).float(), frames.shape[-2:])[:, 0]


def synchrony(layer: torch.Tensor, loud: torch.Tensor) -> float:
    """The mean of the :data:`TOP` best cells' correlations between the cell's motion
    energy and loudness."""
    still = held_still(layer)
    energy = F.avg_pool2d((still[1:] - still[:-1]).abs()[:, None], CELL, CELL)[:, 0]
    e = energy.flatten(1)
    e = e - e.mean(0)
    a = loud[1:] - loud[1:].mean()
    corr = (e * a[:, None]).sum(0) / (e.norm(dim=0) * a.norm() + 1e-9)
    return float(corr.topk(min(TOP, corr.numel())).values.mean())


def owner_of_v1(truth: torch.Tensor, out: torch.Tensor) -> int:
    """Which output is V¹'s under the best assignment (PIT)."""
    cost = pairwise_loss(truth[None], out[None])[0]
    return 0 if cost[0, 0] + cost[1, 1] <= cost[0, 1] + cost[1, 0] else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--split", default="val")
    p.add_argument("--samples", type=int, default=16)
    # about the longest shots with sound the corpus holds (6.4 s at 25 frames/s): the
    # longer the clip, the more a synchrony can show
    p.add_argument("--frames", type=int, default=160)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--no-c3", action="store_true", help="leave out the trained C3")
    args = p.parse_args()
    print(cpu_header())
    data = TwoMotionPairs(make_entries("corpus", None, args.split), args.samples,
                          frames=args.frames, size=args.size, seed=SEED, audio=True)
    auto = Separator("auto", progress=False, max_size=None)
    c3 = None if args.no_c3 else Separator("c3-cpu-v1", progress=False, max_size=None)
    right: dict[str, list[float]] = {"true layers": [], "true layers, sound reversed": [],
                                     "auto's outputs": [], "c3-cpu-v1": [],
                                     "c3-cpu-v1, sound reversed": []}
    unseparated = 0
    start = time.perf_counter()
    for i in range(len(data)):
        item = data[i]
        truth = torch.stack([item["v1"], item["v2"]])
        loud = loudness(item["sound"], args.frames)
        scores = [synchrony(layer, loud) for layer in truth]
        right["true layers"].append(float(np.argmax(scores) == 0))
        # the control: the same sound backwards, out of step with every motion — a pick
        # that still finds V¹ finds it by something other than synchrony
        backwards = np.ascontiguousarray(item["sound"][::-1])
        loud_back = loudness(backwards, args.frames)
        scores = [synchrony(layer, loud_back) for layer in truth]
        right["true layers, sound reversed"].append(float(np.argmax(scores) == 0))
        out = auto.separate(item["mix"])
        chose = ", ".join(sorted({r.get("chose", "?") for r in auto.method.take_reports()}))
        if torch.equal(out[0], out[1]):  # no segment separated: the input as both layers
            unseparated += 1
            right["auto's outputs"].append(0.5)
        else:
            scores = [synchrony(layer, loud) for layer in out]
            right["auto's outputs"].append(float(np.argmax(scores) == owner_of_v1(truth, out)))
        if c3 is not None:
            spec = control_spectrogram(item["sound"], args.frames)
            layers, control = c3.separate_segment(item["mix"], spec)
            right["c3-cpu-v1"].append(float(int(control.argmin()) == owner_of_v1(truth, layers)))
            spec = control_spectrogram(backwards, args.frames)
            layers, control = c3.separate_segment(item["mix"], spec)
            right["c3-cpu-v1, sound reversed"].append(
                float(int(control.argmin()) == owner_of_v1(truth, layers)))
        m = item["meta"]
        print(f"{i:3d} {m['source1']} + {m['source2']} ({m['camera1']} / {m['camera2']}): "
              f"auto chose {chose}; " + ", ".join(f"{k} {int(v[-1] * 2) / 2:g}"
                                                   for k, v in right.items() if v), flush=True)
    print(f"\n{args.split}, {len(data)} two-motion blends with V¹'s sound, "
          f"{args.frames}×{args.size}², {time.perf_counter() - start:.0f} s; "
          f"auto could not separate {unseparated} (half right each)\n")
    print("| picked by | correct |\n|---|---|")
    for name, values in right.items():
        if values:
            print(f"| {name} | {100 * np.mean(values):.0f} % |")
    print("| chance | 50 % |")


if __name__ == "__main__":
    main()
