"""Which two of an n-output model's layers to keep: the ground-truth pick against the
rules of :mod:`centrifuge.separation.selection` and candidate rules, on held-out
procedural blends (the fixed sets of ``benchmarks/learnability.py``).

    python benchmarks/curve.py --args '{"n_outputs": 4}' --save runs/n4.safetensors ...
    python benchmarks/picks.py runs/n4.safetensors --synthetic '{"coherence": 0.7, "palette": 0.5}'

Prints, per blend kind, the PIT loss of the kept pair as a ratio to Identity's for:
``oracle`` (the best pair, chosen with the ground truth: what training optimises),
``worst``, the shipped rules ``recompose`` and ``dissimilar``, and two candidates that
need no ground truth — ``recompose, no floor`` (the recompose rule without its
distance floor) and ``mean = input`` (the pair whose average is closest to the input, in
mean absolute difference: α = ½). A rule is good when it reads close to ``oracle``.
"""

from __future__ import annotations

import argparse
import itertools
import json

import torch
from torch.utils.data import default_collate

from centrifuge.config import DataConfig
from centrifuge.data.pairs import stack_targets
from centrifuge.data.synthetic import SyntheticConfig
from centrifuge.evaluate import baselines
from centrifuge.losses import best_assignment, pairwise_loss, pit_loss
from centrifuge.precision import resolve_precision
from centrifuge.pretrained import resolve_model
from centrifuge.separation.selection import pair_stats
from centrifuge.train.datamodule import synthetic_val_sets


def pair_losses(pairwise: torch.Tensor, pairs) -> torch.Tensor:
    """PIT loss of each pair of outputs, from one blend's target × output loss matrix
    ``(m, n)`` (:func:`~centrifuge.losses.pairwise_loss`): each pair's best matching."""
    return best_assignment(torch.stack([pairwise[:, list(p)] for p in pairs]))[0]


def candidates(outputs: torch.Tensor, video: torch.Tensor, pairs) -> dict[str, int]:
    """Index into ``pairs`` of each rule's pick."""
    stats = pair_stats(outputs, video)
    err = stats.recomposition_error()
    err = torch.minimum(err, err.T)
    mean_gap = [((outputs[i] + outputs[j]) / 2 - video).abs().mean() for i, j in pairs]
    return {
        "recompose": pairs.index(stats.pick("recompose")),
        "dissimilar": pairs.index(stats.pick("dissimilar")),
        "recompose, no floor": int(torch.tensor([err[i, j] for i, j in pairs]).argmin()),
        "mean = input": int(torch.stack(mean_gap).argmin()),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="weights (.safetensors) or a pretrained name")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--held", type=int, default=128, help="held-out blends per kind")
    p.add_argument("--synthetic", default="{}", help="generator knobs as JSON")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    args = p.parse_args(argv)
    dtype = resolve_precision(args.precision, "cpu").dtype
    model, name = resolve_model(args.model, torch.device("cpu"))
    n = model.config.n_outputs
    pairs = list(itertools.combinations(range(n), 2))
    sets = synthetic_val_sets(DataConfig(
        source="synthetic", frames=args.frames, size=args.size,
        synthetic=SyntheticConfig(**json.loads(args.synthetic)), val_synthetic=args.held))
    print(f"{name}: n = {n}, {args.held} held-out blends per kind, "
          f"{args.frames}×{args.size}²; kept pair's loss / Identity's\n")
    rows = {}
    for kind, data in sets.items():
        totals: dict[str, float] = {}
        identity = 0.0
        for k in range(0, args.held, 8):
            batch = default_collate([data[i] for i in range(k, min(k + 8, args.held))])
            mix, targets = batch["mix"], stack_targets(batch)
            with torch.no_grad(), torch.autocast("cpu", dtype, enabled=dtype != torch.float32):
                out = model(mix).float()
            identity += pit_loss(baselines.identity(mix), targets).per_sample.sum().item()
            matrices = pairwise_loss(targets, out)  # every target against every output, once
            for o, v, pw in zip(out, mix, matrices, strict=True):
                losses = pair_losses(pw, pairs)
                picks = {"oracle": int(losses.argmin()), "worst": int(losses.argmax()),
                         **candidates(o, v, pairs)}
                for rule, i in picks.items():
                    totals[rule] = totals.get(rule, 0.0) + losses[i].item()
        rows[kind] = {rule: total / identity for rule, total in totals.items()}
    rules = list(next(iter(rows.values())))
    print("| kind | " + " | ".join(rules) + " |")
    print("|---" * (len(rules) + 1) + "|")
    for kind, ratios in rows.items():
        print(f"| {kind} | " + " | ".join(f"{ratios[r]:.3f}" for r in rules) + " |")


if __name__ == "__main__":
    main()
