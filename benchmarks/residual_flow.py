"""What each layer's residual flow adds to ``motion-layers``' rigid joint solve (how
``flow`` and its warm start were chosen; ``ops/residual_flow.py``).

    python benchmarks/residual_flow.py                          # train, two-motion and camera-fixed
    python benchmarks/residual_flow.py --sigma 2 --blend two-motion

Per blend kind (``centrifuge evaluate``'s seeded corpus blends, 32 frames, 64² by
default, the **train** split unless told): the motions as ``motion-layers`` finds them, the
rigid solve, then the answer solved again on the grids moved by each layer's flow — in
:data:`~centrifuge.methods.motion_layers.FLOW_ROUNDS` rounds of a ninth of the iterations,
each from the last one's layers (what ships), in one round of a third from the rigid
layers, and in one round of all of them from the stabilised clip — each as the mean of
per-blend ratios to Identity, with the seconds the flowed solves took. No give-up rule:
every blend is solved.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from centrifuge.data.two_motion import TWO_MOTION
from centrifuge.evaluate.blends import BLENDS, corpus_blends, score_blend
from centrifuge.methods import create_method
from centrifuge.methods.motion_layers import FLOW_ROUNDS
from centrifuge.ops import residual_flow
from centrifuge.ops.residual_flow import layer_flows, moved_canvas
from centrifuge.precision import cpu_header


def _ratio(out: torch.Tensor, item: dict) -> float:
    s = score_blend(out.clamp(0, 1)[None], item["mix"][None],
                    torch.stack([item["v1"], item["v2"]])[None])
    return float(s.loss / s.identity)


def score_kind(blend: str, args) -> dict:
    data = corpus_blends(blend, args.samples, args.frames, args.size, None, args.split)
    method = create_method("motion_layers", flow=False)
    full = method.config.iterations
    # (name, iterations of each round, warm: from the last round's layers)
    plans = (("rounds", [max(1, full // 9)] * FLOW_ROUNDS, True),
             ("warm", [max(1, full // 3)], True), ("cold", [full], False))
    ratios = {"rigid": []} | {name: [] for name, _, _ in plans}
    seconds = {name: 0.0 for name, _, _ in plans}
    for i in range(len(data)):
        item = data[i]
        mix = item["mix"]
        rigid = method.solved(mix, method.estimate(mix))
        ratios["rigid"].append(_ratio(rigid.out, item))
        for name, rounds, warm in plans:
            begin = time.perf_counter()
            solved = rigid
            for iterations in rounds:
                flows = layer_flows(mix, solved.seen, method.config.model, args.sigma)
                solved = method.solved(mix, None, iterations,
                                       canvas=moved_canvas(solved.canvas, flows),
                                       start=solved.layers if warm else None)
            seconds[name] += time.perf_counter() - begin
            ratios[name].append(_ratio(solved.out, item))
    return {k: float(np.mean(v)) for k, v in ratios.items()} | {
        f"{k}_s": v for k, v in seconds.items()} | {"samples": len(data)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", default="train", choices=["train", "val"])
    p.add_argument("--samples", type=int, default=24)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--blend", nargs="+", default=[TWO_MOTION, "camera-fixed"], choices=BLENDS)
    p.add_argument("--sigma", type=float, default=residual_flow.SIGMA,
                   help="px, the Gaussian smoothing each flow field")
    args = p.parse_args(argv)
    print(cpu_header())
    print(f"motion-layers' joint solve, {args.split}, {args.samples} blends per kind, "
          f"{args.frames}×{args.size}², flow σ {args.sigma} px; mean of per-blend ratios "
          "to Identity\n")
    print(f"| blend | blends | rigid | flow, {FLOW_ROUNDS} warm rounds of a ninth of the "
          "iterations (ships) | one warm round of a third | one cold round of all | "
          "seconds (the three) |\n|---|---|---|---|---|---|---|")
    for blend in args.blend:
        r = score_kind(blend, args)
        print(f"| {blend} | {r['samples']} | {r['rigid']:.4f} | {r['rounds']:.4f} | "
              f"{r['warm']:.4f} | {r['cold']:.4f} | {r['rounds_s']:.1f} / {r['warm_s']:.1f} / "
              f"{r['cold_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
