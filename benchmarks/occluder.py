"""`occluder` on val moving-occluder blends: a contact sheet and its speed.

    python benchmarks/occluder.py --sheet docs/occluder.png   # the README's picture
    python benchmarks/occluder.py --speed 64 128              # frames/s per frame side
    python benchmarks/occluder.py --through-mp4 18 28         # the scores after an encode

The scores are `centrifuge evaluate -n occluder --blend moving-occluder` (the model card).
Each sheet row: the blend | the scene found | the matte found | the true scene | the true
matte, at one frame (shown 3× with nearest pixels), with the blend's scene ratio to
Identity and the matte's IoU. ``--through-mp4 CRF…``: the same val blends written as H.264
(4:2:0, the project's writer at that CRF) and read back before the method sees them, scored
against the true scene and matte beside the blends as decoded (the yardstick's way).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from centrifuge.data.entries import make_entries
from centrifuge.data.occluders import MovingOccluderPairs
from centrifuge.evaluate.moving_occluder import EVAL_SEED, _iou
from centrifuge.evaluate.occlusion import masked_loss
from centrifuge.io import frames_to_tensor, read_video, tensor_to_frames, write_video
from centrifuge.methods import create_method
from centrifuge.ops.matte import solve_occlusion
from centrifuge.precision import cpu_header


def blends(samples: int, frames: int, size: int) -> MovingOccluderPairs:
    return MovingOccluderPairs(make_entries("corpus", None, "val"), samples, frames=frames,
                               size=size, seed=EVAL_SEED)


def contact_sheet(path: str, indices: list[int], frames: int, size: int) -> None:
    data = blends(max(indices) + 1, frames, size)
    method = create_method("occluder")
    rows = []
    for i in indices:
        item = data[i]
        out = method.separate_clip(item["mix"])
        seen = item["scene_seen"][None]
        ratio = float(masked_loss(out[0][None], item["v2"][None], seen)
                      / masked_loss(item["mix"][None], item["v2"][None], seen))
        print(f"blend {i}: {item['meta']['occluder']} ({item['meta']['camera1']}) over "
              f"{item['meta']['source2']} ({item['meta']['camera2']}): scene {ratio:.3f}× "
              f"Identity, matte IoU {_iou(out[2][:1], item['alpha']):.2f}; "
              f"{method.take_reports()}")
        t = frames // 2
        truth = item["alpha"].expand(3, -1, -1, -1)
        rows.append(np.concatenate([tensor_to_frames(x)[t] for x in
                                    (item["mix"], out[0], out[2], item["v2"], truth)], 1))
    sheet = Image.fromarray(np.concatenate(rows, 0))
    sheet.resize((sheet.width * 3, sheet.height * 3), Image.NEAREST).save(path, optimize=True)
    print(f"wrote {path}: blend | scene | matte | true scene | true matte")


def speed(frames: int, sizes: list[int]) -> None:
    method = create_method("occluder")
    print(cpu_header())
    for size in sizes:
        item = blends(1, frames, size)[0]
        t0 = time.perf_counter()
        method.separate_clip(item["mix"])
        dt = time.perf_counter() - t0
        print(f"{size}²: {frames} frames in {dt:.1f} s = {frames / dt:.1f} frames/s")


def through_mp4(crfs: list[int], samples: int, frames: int, size: int) -> None:
    """The scene / Identity (ratio of sums) and the matte's IoU of ``occluder`` (and of
    the matte solve told the true motions) on val blends as decoded and after an H.264
    round trip at each CRF."""
    data = blends(samples, frames, size)
    method = create_method("occluder")
    sums: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(samples):
            item = data[i]
            seen, target = item["scene_seen"][None], item["v2"][None]
            clips = {"as decoded": item["mix"]}
            for crf in crfs:
                path = write_video(Path(tmp) / f"{i}-{crf}.mp4",
                                   tensor_to_frames(item["mix"]), fps=25, crf=crf)
                clips[f"H.264 CRF {crf}"] = frames_to_tensor(read_video(path).frames)
            decoded = float(masked_loss(item["mix"][None], target, seen))
            for name, mix in clips.items():
                ident = float(masked_loss(mix[None], target, seen))
                out = method.separate_clip(mix)
                told = solve_occlusion(mix, item["motion2"], item["motion1"])
                for answer, scene, matte in ((name, out[0], out[2][:1]),
                                             (f"{name}, told the motions", told.scene,
                                              told.matte)):
                    s = sums.setdefault(answer, [0.0, 0.0, 0.0, 0.0])
                    s[0] += float(masked_loss(scene[None], target, seen))
                    s[1] += ident
                    s[2] += decoded
                    s[3] += _iou(matte, item["alpha"])
            print(f"blend {i + 1}/{samples}", end="\r", flush=True)
    print(cpu_header())
    print(f"occluder on {samples} val moving-occluder blends, {frames}×{size}²:\n")
    print("| the clip | scene / its own blend | scene / the decoded blend | matte IoU |")
    print("|---|---|---|---|")
    for name, (own, ident, decoded, iou) in sums.items():
        print(f"| {name} | {own / ident:.3f} | {own / decoded:.3f} | {iou / samples:.3f} |")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--sheet", metavar="PNG")
    p.add_argument("--sheet-blends", type=int, nargs="+", default=[0, 1, 2, 3])  # one of each kind
    p.add_argument("--speed", type=int, nargs="*", metavar="SIZE")
    p.add_argument("--through-mp4", type=int, nargs="*", metavar="CRF")
    p.add_argument("--samples", type=int, default=24)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    if args.sheet:
        contact_sheet(args.sheet, args.sheet_blends, args.frames, args.size)
    if args.speed:
        speed(args.frames, args.speed)
    if args.through_mp4:
        through_mp4(args.through_mp4, args.samples, args.frames, args.size)


if __name__ == "__main__":
    main()
