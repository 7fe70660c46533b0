"""The default method, ``auto``, on every blend kind: its loss beside Identity's and the
best trivial baseline's, and what it chose per blend.

    python benchmarks/auto.py --split train --samples 10     # choose its settings here
    python benchmarks/auto.py                                # val: the model card's table
    python benchmarks/auto.py --margin 0.0 --split train     # another setting
    python benchmarks/auto.py --split train --log train.jsonl  # each blend's reports

Per blend kind (``centrifuge evaluate``'s seeded corpus blends, 32 frames, 64² by
default): the mean PIT loss of ``auto`` over the mean of Identity's (the input as both
layers) and of the best trivial baseline's (the mix + a flat colour or a blur, whichever
scores best on that kind), the share of blends worse than Identity, and how often it
chose each picture (two-motion, camera-fixed, none) and each blend model (average, add).
"""

from __future__ import annotations

import argparse
import collections
import json
import time

import numpy as np
import torch

from centrifuge.evaluate.baselines import baseline_losses, best_trivial
from centrifuge.evaluate.blends import BLENDS, corpus_blends, score_blend
from centrifuge.methods import create_method
from centrifuge.precision import cpu_header
from centrifuge.separation.inference import Separator


def score_kind(blend: str, args) -> dict:
    data = corpus_blends(blend, args.samples, args.frames, args.size, None, args.split)
    method = create_method("auto_layers", margin=args.margin,
                           reflection_gain=args.reflection_gain, still_px=args.still_px,
                           still_lead=args.still_lead, min_fit=args.min_fit,
                           flow=not args.no_flow)
    sep = Separator(method, segment=args.frames, overlap=0.0, max_size=None, progress=False)
    losses, idents = [], []
    trivial: dict[str, list[float]] = {}
    chose, blends = collections.Counter(), collections.Counter()
    start = time.perf_counter()
    for i in range(len(data)):
        item = data[i]
        mix, targets = item["mix"], torch.stack([item["v1"], item["v2"]])[None]
        out = sep.separate(mix)
        reports = method.take_reports()
        for r in reports:
            chose[r["chose"]] += 1
            blends[r.get("blend", "-")] += 1
        s = score_blend(out[None], mix[None], targets)
        if args.log:
            with open(args.log, "a") as f:
                f.write(json.dumps({"blend": blend, "i": i, "split": args.split,
                                    "ratio": float(s.loss) / float(s.identity),
                                    "reports": reports}) + "\n")
        losses.append(float(s.loss))
        idents.append(float(s.identity))
        for name, value in baseline_losses(mix[None], targets).items():
            trivial.setdefault(name, []).append(float(value.mean()))
    ident = float(np.mean(idents))
    best, best_loss = best_trivial({k: float(np.mean(v)) for k, v in trivial.items()})
    return {"blend": blend, "n": len(data), "ratio": float(np.mean(losses)) / ident,
            "vs_trivial": float(np.mean(losses)) / best_loss, "best": best,
            "trivial": best_loss / ident,
            "worse": float((np.array(losses) > np.array(idents)).mean()),
            "chose": dict(chose), "blends": dict(blends),
            "s_per_blend": (time.perf_counter() - start) / max(1, len(data))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--split", default="val", choices=["val", "train"])
    p.add_argument("--samples", type=int, default=24)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--blend", nargs="+", default=list(BLENDS), choices=BLENDS)
    p.add_argument("--margin", type=float, default=0.01)
    p.add_argument("--reflection-gain", type=float, default=0.01)
    p.add_argument("--still-px", type=float, default=1.0)
    p.add_argument("--still-lead", type=float, default=0.02)
    p.add_argument("--min-fit", type=float, default=0.4)
    p.add_argument("--no-flow", action="store_true", help="the rigid answer, no residual flow")
    p.add_argument("--log", help="append each blend's reports and ratio here (JSON lines)")
    args = p.parse_args()
    print(cpu_header())
    print(f"auto (margin {args.margin}, reflection_gain {args.reflection_gain}, still_px "
          f"{args.still_px}, still_lead {args.still_lead}, min_fit {args.min_fit}, "
          f"flow {not args.no_flow}), {args.split}, "
          f"{args.samples} blends per kind, {args.frames}×{args.size}²")
    print(f"{'blend':24s} {'×Identity':>9s} {'×trivial':>9s} {'best trivial':>18s} "
          f"{'worse':>6s}  chose / blend model   s/blend")
    for blend in args.blend:
        r = score_kind(blend, args)
        chose = ", ".join(f"{k} {v}" for k, v in sorted(r["chose"].items()))
        models = ", ".join(f"{k} {v}" for k, v in sorted(r["blends"].items()))
        best = f"{r['best']} ({r['trivial']:.3f})"
        print(f"{blend:24s} {r['ratio']:9.3f} {r['vs_trivial']:9.3f} {best:>18s} "
              f"{r['worse']:6.0%}  "
              f"{chose} / {models}   {r['s_per_blend']:.1f}", flush=True)


if __name__ == "__main__":
    main()
