"""Layers that move differently: the motion-layer methods beside Identity, the best trivial
baseline and the oracle-motion ceiling, and how well they recover each layer's motion.

    python benchmarks/motion_layers.py                           # val, 32 blends per kind
    python benchmarks/motion_layers.py --split train --samples 12   # choose settings here
    python benchmarks/motion_layers.py --stills 16               # motion recovery, stills
    python benchmarks/motion_layers.py --sheet docs/motion-layers.png   # the README's picture
    python benchmarks/motion_layers.py --speed 112 224           # seconds per segment

Per blend kind (``two-motion`` with ``motion-layers``, ``two-motion-reflection`` with
``motion-reflection``; corpus clips, each through its own camera, data/two_motion.py):
the method's PIT loss as a ratio to Identity's and to the best trivial baseline's, PSNR
and SSIM per layer, and the **oracle**: the same joint solve told each camera's true
motion. The oracle is no upper bound on real clips: their content moves on its own (a
talking head, a hand-held original), which the camera's motion does not hold, and the
method's estimate, which follows what it sees, can beat it.

**Motion recovery** is measured where the truth is exact: scikit-image's photographs
(never used to choose anything) through the same cameras — RMS distance at the frame's
corners between the estimated and the true homography (frame t → the middle frame), the
median over frames, for each layer (matched to the truth by the smaller error).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from centrifuge.data.two_motion import (
    STILL_SHARE,
    TWO_MOTION,
    TWO_MOTION_REFLECTION,
    draw_camera,
    margin,
    relative_motion,
)
from centrifuge.evaluate.baselines import baseline_losses, best_trivial
from centrifuge.evaluate.blends import corpus_blends, score_blend
from centrifuge.methods import create_method
from centrifuge.ops.homography import corner_error, sample
from centrifuge.ops.layer_solve import frames_of, solve
from centrifuge.precision import cpu_header
from centrifuge.separation.inference import Separator

METHOD = {TWO_MOTION: "motion-layers", TWO_MOTION_REFLECTION: "motion-reflection"}
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
          "hubble_deep_field.jpg", "ihc.png", "coins.png")


def score_kind(blend: str, samples: int, frames: int, size: int, split: str) -> dict:
    data = corpus_blends(blend, samples, frames, size, None, split)
    method = create_method(METHOD[blend])
    sep = Separator(method, segment=frames, overlap=0.0, max_size=None, progress=False)
    model_add = method.config.model
    sums = {"method": [], "oracle": [], "identity": [], "psnr": [], "oracle_psnr": [],
            "ssim": [], "mix_psnr": []}
    trivial: dict[str, list[float]] = {}
    start = time.perf_counter()
    for i in range(len(data)):
        item = data[i]
        mix, targets = item["mix"], torch.stack([item["v1"], item["v2"]])[None]
        out = sep.separate(mix)
        told, canvas = solve(mix, torch.stack([item["motion1"], item["motion2"]]),
                             model=model_add, smooth=method.config.smooth,
                             iterations=method.config.iterations)
        oracle = frames_of(told, canvas, mix, model=model_add)[0].clamp(0, 1)
        s, o = score_blend(out[None], mix[None], targets), score_blend(oracle[None], mix[None],
                                                                        targets)
        sums["method"].append(float(s.loss))
        sums["oracle"].append(float(o.loss))
        sums["identity"].append(float(s.identity))
        sums["psnr"].append(s.psnr[0].tolist())
        sums["oracle_psnr"].append(o.psnr[0].tolist())
        sums["ssim"].append(s.ssim[0].tolist())
        sums["mix_psnr"].append(s.identity_psnr[0].tolist())
        for name, value in baseline_losses(mix[None], targets).items():
            trivial.setdefault(name, []).append(float(value.mean()))
    ident = float(np.mean(sums["identity"]))
    base = {k: float(np.mean(v)) for k, v in trivial.items()}
    best, best_loss = best_trivial(base)
    per = np.array(sums["method"]) / np.array(sums["identity"])
    return {"blend": blend, "method": METHOD[blend], "samples": len(data),
            "ratio": float(np.mean(sums["method"])) / ident,
            "oracle": float(np.mean(sums["oracle"])) / ident,
            "vs_trivial": float(np.mean(sums["method"])) / best_loss, "best_trivial": best,
            "trivial_ratio": best_loss / ident, "worse": float((per > 1).mean()),
            "psnr": np.mean(sums["psnr"], 0), "oracle_psnr": np.mean(sums["oracle_psnr"], 0),
            "ssim": np.mean(sums["ssim"], 0), "mix_psnr": np.mean(sums["mix_psnr"], 0),
            "seconds": time.perf_counter() - start}


def _photo(name: str, side: int) -> torch.Tensor:
    import skimage.data

    img = Image.open(Path(skimage.data.__file__).parent / name).convert("RGB")
    w, h = img.size
    c = min(w, h)  # the central square, scaled to the wide frame
    img = img.crop(((w - c) // 2, (h - c) // 2, (w + c) // 2, (h + c) // 2))
    return torch.from_numpy(np.asarray(img.resize((side, side), Image.BICUBIC)).copy()
                            ).permute(2, 0, 1).float() / 255


def motion_recovery(samples: int, frames: int, size: int) -> list[tuple[float, float]]:
    """Per blend of two photographs through known cameras: each layer's median corner
    error (px) of ``motion-layers``' estimate."""
    side = size + 2 * margin(frames, size)
    method = create_method("motion-layers")
    out = []
    for i in range(samples):
        rng = np.random.default_rng([7, i])
        a, b = rng.choice(len(PHOTOS), 2, replace=False)
        still = int(rng.integers(2)) if rng.random() < STILL_SHARE else None
        clips, truth = [], []
        for k, name in enumerate((PHOTOS[a], PHOTOS[b])):
            path, _ = draw_camera(rng, frames, size, side, still=still == k)
            pic = _photo(name, side)[None].expand(frames, -1, -1, -1)
            clips.append(sample(pic, path, (size, size)).permute(1, 0, 2, 3).clamp(0, 1))
            truth.append(relative_motion(path))
        mix = 0.5 * (clips[0] + clips[1])
        est = method.estimate(mix)
        err = [[float(corner_error(est[j], truth[k], (size, size)).median()) for k in range(2)]
               for j in range(2)]
        straight, crossed = err[0][0] + err[1][1], err[0][1] + err[1][0]
        out.append((err[0][0], err[1][1]) if straight <= crossed else (err[0][1], err[1][0]))
    return out


def contact_sheet(path: str, indices: list[int], frames: int, size: int) -> None:
    """One row per val two-motion blend: the blend, motion-layers' two layers, the two
    clips it was made of (the middle frame), with each blend's ratio to Identity."""
    from centrifuge.io import tensor_to_frames

    data = corpus_blends(TWO_MOTION, max(indices) + 1, frames, size, None, "val")
    method = create_method("motion-layers")
    rows = []
    for i in indices:
        item = data[i]
        out = method.separate_clip(item["mix"])
        s = score_blend(out[None], item["mix"][None],
                        torch.stack([item["v1"], item["v2"]])[None])
        print(f"blend {i}: {item['meta']['source1']} ({item['meta']['camera1']}) + "
              f"{item['meta']['source2']} ({item['meta']['camera2']}): "
              f"{float(s.loss / s.identity):.3f}× Identity; {method.take_reports()}")
        t = frames // 2
        rows.append(np.concatenate([tensor_to_frames(x)[t] for x in
                                    (item["mix"], out[0], out[1], item["v1"], item["v2"])], 1))
    Image.fromarray(np.concatenate(rows, 0)).save(path, optimize=True)
    print(f"wrote {path}: blend | layer 0 | layer 1 | clip 1 | clip 2")


def speed(frames: int, sizes: list[int], flow: bool = True) -> None:
    """Seconds per segment of ``motion-layers`` alone on one val two-motion blend per size
    (``flow``: with its residual-flow solve)."""
    for size in sizes:
        mix = corpus_blends(TWO_MOTION, 1, frames, size, None, "val")[0]["mix"]
        method = create_method("motion_layers", flow=flow)
        start = time.perf_counter()
        method.separate_clip(mix)
        took = time.perf_counter() - start
        print(f"| {frames}×{size}² | {took:.1f} s | {frames / took:.2f} frames/s |")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=["train", "val"], default="val")
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--blend", nargs="*", choices=list(METHOD), default=list(METHOD))
    p.add_argument("--stills", type=int, default=16, help="photograph blends for motion "
                   "recovery (0: skip)")
    p.add_argument("--sheet", metavar="PNG", help="only write a contact sheet of val blends "
                   "--sheet-blends (docs/motion-layers.png) and stop")
    p.add_argument("--sheet-blends", type=int, nargs="+", default=[2, 3, 5])
    p.add_argument("--speed", type=int, nargs="*", metavar="SIZE",
                   help="only time one segment per size (e.g. --speed 112 224) and stop")
    p.add_argument("--no-flow", action="store_true",
                   help="with --speed: time the rigid solve alone, no residual flow")
    args = p.parse_args(argv)
    if args.speed is not None:
        print(f"{cpu_header()}\n| segment | seconds | frames/s |\n|---|---|---|")
        speed(args.frames, args.speed or [112, 224], not args.no_flow)
        return
    if args.sheet:
        contact_sheet(args.sheet, args.sheet_blends, args.frames, args.size)
        return
    print(f"{cpu_header()}\n{args.split} split, {args.frames}×{args.size}², "
          f"{args.samples} blends per kind\n")
    print("| blend | method | samples | ratio to Identity | oracle motion | best trivial "
          "(ratio) | **loss / best trivial** | worse than Identity | PSNR V¹ / V² (dB) | "
          "oracle PSNR | mix PSNR | SSIM V¹ / V² | frames/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for blend in args.blend:
        r = score_kind(blend, args.samples, args.frames, args.size, args.split)
        fps = r["samples"] * args.frames / r["seconds"] / 2  # two solves per blend
        print(f"| {blend} | {r['method']} | {r['samples']} | {r['ratio']:.3f} | "
              f"{r['oracle']:.3f} | {r['best_trivial']} ({r['trivial_ratio']:.3f}) | "
              f"**{r['vs_trivial']:.3f}** | {100 * r['worse']:.0f} % | "
              f"{r['psnr'][0]:.2f} / {r['psnr'][1]:.2f} | {r['oracle_psnr'][0]:.2f} / "
              f"{r['oracle_psnr'][1]:.2f} | {r['mix_psnr'][0]:.2f} / {r['mix_psnr'][1]:.2f} | "
              f"{r['ssim'][0]:.3f} / {r['ssim'][1]:.3f} | ~{fps:.1f} |", flush=True)
    if args.stills:
        errors = motion_recovery(args.stills, args.frames, args.size)
        worst = [max(e) for e in errors]
        print(f"\nmotion recovery on {len(errors)} blends of scikit-image photographs through "
              f"known cameras ({args.frames}×{args.size}²), median corner error per layer (px):")
        print(f"within 0.5 px for both layers: {np.mean([w <= 0.5 for w in worst]):.0%}; "
              f"within 2 px: {np.mean([w <= 2 for w in worst]):.0%}; median of the worse "
              f"layer {np.median(worst):.2f} px; stronger layer "
              f"{np.median([min(e) for e in errors]):.2f} px")
        print("per blend:", ", ".join(f"{a:.2f}/{b:.2f}" for a, b in errors))


if __name__ == "__main__":
    main()
