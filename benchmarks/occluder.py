"""`occluder` on val moving-occluder blends: a contact sheet and its speed.

    python benchmarks/occluder.py --sheet docs/occluder.png   # the README's picture
    python benchmarks/occluder.py --speed 64 128              # frames/s per frame side

The scores are `centrifuge evaluate -n occluder --blend moving-occluder` (the model card).
Each sheet row: the blend | the scene found | the matte found | the true scene | the true
matte, at one frame (shown 3× with nearest pixels), with the blend's scene ratio to
Identity and the matte's IoU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from centrifuge.data.entries import make_entries
from centrifuge.data.occluders import MovingOccluderPairs
from centrifuge.evaluate.moving_occluder import EVAL_SEED, _iou
from centrifuge.evaluate.occlusion import masked_loss
from centrifuge.io import tensor_to_frames
from centrifuge.methods import create_method
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


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--sheet", metavar="PNG")
    p.add_argument("--sheet-blends", type=int, nargs="+", default=[0, 1, 2, 3])  # one of each kind
    p.add_argument("--speed", type=int, nargs="*", metavar="SIZE")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    if args.sheet:
        contact_sheet(args.sheet, args.sheet_blends, args.frames, args.size)
    if args.speed:
        speed(args.frames, args.speed)


if __name__ == "__main__":
    main()
