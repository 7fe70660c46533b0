"""Does a model fail to separate for lack of capacity or for lack of a general rule?

    python benchmarks/learnability.py                      # default model, 120 steps
    python benchmarks/learnability.py -n runs/x/model.safetensors --steps 200

Two measurements on procedural transparent blends (α = ½, the generator of
``data.source: synthetic``, seeds no training run uses):

1. the model's ratio to Identity on ``--held`` held-out synthetic blends — its own
   training distribution, so a ratio near 1 here is not a real-video domain gap;
2. a memorisation probe: ``--steps`` AdamW steps on ``--fit`` fixed blends (every
   weight trains), printing the ratio on those blends and on 8 held-out ones.

A network that drives the fixed blends far below Identity can represent separation;
if the held-out ratio does not follow, what it lacks is the general rule (more
training data seen), not capacity. Nothing is written; the model file is not changed.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import default_collate

from centrifuge.config import DataConfig
from centrifuge.data.pairs import BlendConfig, BlendedPairs, stack_targets
from centrifuge.inference import resolve_model
from centrifuge.losses import pit_loss
from centrifuge.train.datamodule import make_source

SEED = 777_001  # far from the data.seed values of the configs


def blends(dataset, indices) -> tuple[torch.Tensor, torch.Tensor]:
    batch = default_collate([dataset[i] for i in indices])
    return batch["mix"], stack_targets(batch)


def ratio(model, batches, device) -> float:
    """Mean over batches of PIT loss / Identity loss."""
    was = model.training
    model.eval()
    values = []
    with torch.no_grad():
        for mix, targets in batches:
            mix, targets = mix.to(device), targets.to(device)
            with torch.autocast(device.type, torch.bfloat16):
                out = model(mix)
            n = out.shape[1]
            loss = pit_loss(out.float(), targets).loss
            identity = pit_loss(mix[:, None].expand(-1, n, -1, -1, -1, -1), targets).loss
            values.append((loss / identity).item())
    model.train(was)
    return sum(values) / len(values)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", "--model", default="default")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--held", type=int, default=32, help="held-out blends for (1)")
    p.add_argument("--fit", type=int, default=4, help="fixed blends to memorise in (2)")
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)

    model, name = resolve_model(args.model, device)
    source = make_source(DataConfig(source="synthetic", frames=args.frames, size=args.size),
                         None)
    data = BlendedPairs(source, 10**6, seed=SEED, blend=BlendConfig(blend="transparent",
                                                                    alpha=0.5))
    held = [blends(data, range(10_000 + k, 10_000 + min(k + 4, args.held)))
            for k in range(0, args.held, 4)]
    print(f"{name}: {args.held} held-out synthetic transparent blends "
          f"({args.frames}×{args.size}²): ratio {ratio(model, held, device):.3f}", flush=True)

    fixed = [blends(data, range(args.fit))]
    mix, targets = fixed[0][0].to(device), fixed[0][1].to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    print(f"\nmemorising {args.fit} blends (all weights, AdamW lr {args.lr:g}, bf16 autocast)")
    print(f"| step | fixed blends | {min(8, args.held)} held-out | seconds |\n|---|---|---|---|")
    start = time.perf_counter()
    for step in range(args.steps + 1):
        if step % args.every == 0 or step == args.steps:
            print(f"| {step} | {ratio(model, fixed, device):.3f} | "
                  f"{ratio(model, held[:2], device):.3f} | "
                  f"{time.perf_counter() - start:.0f} |", flush=True)
        if step == args.steps:
            break
        with torch.autocast(device.type, torch.bfloat16):
            out = model(mix)
        loss = pit_loss(out.float(), targets).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
