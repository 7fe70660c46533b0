"""How well do edge-head models tell which layer owns each edge, and how right must they
be? On the real val transparent blends of ``centrifuge evaluate`` (docs/edges.md).

    python benchmarks/edge_owners.py runs/edges.safetensors    # accuracy, sharpened owners
    python benchmarks/edge_owners.py --flips 0 0.1 0.2 0.3     # told owners, some flipped

For a model (``centrifuge_small head=edges``): the share of the blend's edges whose owner
it gets right (each edge counted by the blend's edge strength, the better labelling of
the two), its ratio to Identity, and the ratio with its ownership logits multiplied by
2, 4 and 1000 (sharper, towards hard decisions), with and without its Δ. With
``--flips``: the told answer of ``benchmarks/ceilings.py`` (the true owners) with that
share of the owners flipped at random.
"""

from __future__ import annotations

import argparse

import torch

from centrifuge.evaluate.blends import corpus_blends
from centrifuge.losses import pit_loss
from centrifuge.models.small import edge_layers
from centrifuge.ops.poisson import edge_owners, edge_strengths
from centrifuge.precision import cpu_header
from centrifuge.pretrained import resolve_model

SHARPEN = (2, 4, 1000)


def accuracy(logits: torch.Tensor, mix: torch.Tensor, targets: torch.Tensor) -> float:
    """Edge-strength-weighted share of edges whose owner the logits get right."""
    first = edge_owners(targets[:, 0], targets[:, 1])
    said = (logits[:, 0] > logits[:, 1]).to(first.dtype)
    weight = edge_strengths(mix)
    right = float((weight * (said == first)).sum() / weight.sum().clamp_min(1e-8))
    return max(right, 1 - right)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*")
    p.add_argument("--flips", nargs="*", type=float, default=[])
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args(argv)
    data = corpus_blends("transparent", args.samples, args.frames, args.size, None, "val")
    # each blend with its two layers, and Identity's loss over all of them (every ratio's
    # denominator), once for the flips table and every model
    items = [(it["mix"][None], torch.stack([it["v1"], it["v2"]])[None])
             for it in (data[i] for i in range(args.samples))]
    identity = sum(float(pit_loss(torch.stack([mix, mix], 1), targets).loss)
                   for mix, targets in items)
    print(f"{cpu_header()}\n{args.samples} val transparent blends, "
          f"{args.frames}×{args.size}²\n")
    if args.flips:
        g = torch.Generator().manual_seed(0)
        print("| owners flipped | ratio to Identity |\n|---|---|")
        for share in args.flips:
            loss = 0.0
            for mix, targets in items:
                first = edge_owners(targets[:, 0], targets[:, 1])
                flip = torch.rand(first.shape, generator=g) < share
                first = torch.where(flip, 1 - first, first)
                out = edge_layers(mix, torch.stack([first, 1 - first], 1))
                loss += float(pit_loss(out, targets).loss)
            print(f"| {share:.0%} | {loss / identity:.3f} |", flush=True)
    if args.models:
        heads = " | ".join(f"×{k} | ×{k}, no Δ" for k in SHARPEN)
        print(f"\n| model | owners right | ratio | {heads} |\n|---|---|---|"
              + "---|---|" * len(SHARPEN))
    for spec in args.models:
        model, name = resolve_model(spec, torch.device("cpu"))
        model.eval()
        totals, right = {}, 0.0
        for mix, targets in items:
            with torch.no_grad():
                res = model.forward_dict(mix)
            logits = res["owners"]
            right += accuracy(logits, mix, targets)
            delta = res["outputs"] - edge_layers(mix, logits.softmax(1))
            outs = {"model": res["outputs"]}
            for k in SHARPEN:
                sharp = edge_layers(mix, (logits * k).softmax(1))
                outs[f"{k}"], outs[f"{k} no Δ"] = sharp + delta, sharp
            for key, out in outs.items():
                totals[key] = totals.get(key, 0.0) + float(pit_loss(out, targets).loss)
        cells = " | ".join(f"{loss / identity:.3f}" for loss in totals.values())
        print(f"| {spec} | {right / len(items):.3f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
