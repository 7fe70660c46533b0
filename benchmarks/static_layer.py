"""How far should static_layer go? Its strength λ on real blends, beside the baselines.

    python benchmarks/static_layer.py --split train                # choose λ here
    python benchmarks/static_layer.py --split val --strengths 0.5  # then report
    python benchmarks/static_layer.py --mode add --strengths 1 --floors 0.02 0.05 0.1 \
        --blend camera-fixed-reflection                            # faint reflections
    python benchmarks/static_layer.py --mode add --bounds on off ...   # min-composite or not

For each strength, ``centrifuge evaluate``'s blends of the corpus split
(``--blend camera-fixed transparent`` by default: one layer fixed to the camera and the
other panning, and the plain blends of nearly still clips) scored like ``centrifuge
evaluate -n static-layer`` would score a model of that strength: ratio to Identity, the
best trivial baseline, and the ratio to it (below 1: it separates). λ = 1 is the
estimate itself; smaller λ hedges toward the input where nothing moves
(methods/static.py). Choose on ``--split train`` (new crops of the training videos: the
method has no training, but the choice is one), report on val.
"""

from __future__ import annotations

import argparse
import time

import torch

from centrifuge.evaluate.blends import BLENDS, evaluate_blends
from centrifuge.methods import create_method
from centrifuge.methods.static import BLENDS as MODES
from centrifuge.methods.static import StaticConfig
from centrifuge.precision import cpu_header
from centrifuge.separation.inference import Separator


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--strengths", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    p.add_argument("--mode", choices=MODES, default=StaticConfig.blend,
                   help="static_layer's blend: average (α = ½) or add (a faint reflection)")
    p.add_argument("--floors", type=float, nargs="+", default=[StaticConfig.floor],
                   help="with --mode add: the reflection's quantile set to black")
    p.add_argument("--bounds", nargs="+", choices=["on", "off"], default=["on"],
                   help="with --mode add: hold the reflection under the clip's darkest frame "
                        "(on, the default) or not (off: the ninth session's method)")
    p.add_argument("--blend", nargs="+", choices=BLENDS, default=["camera-fixed", "transparent"])
    p.add_argument("--split", choices=["train", "val"], default="train")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args(argv)
    print(f"{cpu_header()}\n{args.split} split, {args.samples} blends per kind, "
          f"{args.frames}×{args.size}²\n")
    print("| mode | strength λ | floor | bound | blend | ratio to Identity | "
          "best trivial (ratio) | **ratio to best trivial** | PSNR V¹ / V² (mix) dB | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    add = args.mode == "add"
    floors = args.floors if add else [StaticConfig.floor]
    bounds = [b == "on" for b in args.bounds] if add else [StaticConfig.bound]
    for strength, floor, bound in [(s, f, b) for s in args.strengths for f in floors
                                   for b in bounds]:
        method = create_method("static_layer", strength=strength, blend=args.mode,
                               floor=floor, bound=bound)
        sep = Separator(method, precision="fp32", segment=args.frames, overlap=0.0,
                        max_size=None, progress=False)
        for blend in args.blend:
            start = time.perf_counter()
            r = evaluate_blends(sep, blend=blend, samples=args.samples, frames=args.frames,
                                size=args.size, split=args.split, progress=False)
            trivial = r.baselines[r.best_trivial] / r.identity
            print(f"| {args.mode} | {strength:g} | {floor:g} | {'on' if bound else 'off'} "
                  f"| {blend} | {r.oracle.ratio:.3f} | "
                  f"{r.best_trivial} "
                  f"({trivial:.3f}) | **{r.oracle.vs_trivial:.3f}** | {r.oracle.psnr[0]:.2f} / "
                  f"{r.oracle.psnr[1]:.2f} ({r.identity_psnr[0]:.2f} / "
                  f"{r.identity_psnr[1]:.2f}) | {time.perf_counter() - start:.0f} |",
                  flush=True)


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
