"""What a CPU-hour buys: training cost of candidate networks and clip sizes on this machine.

    python benchmarks/budget.py                   # the docs/training.md table
    python benchmarks/budget.py --steps 3 --candidates small:8x64 cpu:32x112
    python benchmarks/budget.py --device cuda --batch 16 --steps 10   # a lent GPU

For each candidate: parameters, GFLOP of one training blend (forward + backward,
``torch.utils.flop_counter``), the median seconds of a training step (AdamW, PIT loss,
``channels_last_3d``) at ``--batch``, blends per second, and blends per 3-hour session —
in fp32, and in bf16 autocast where the CPU runs it natively (emulated bf16 is skipped:
100–200× slower). Synthetic data generation is not included (``benchmarks/loader.py``
measures it). Run it on an idle machine: a training run beside it halves every number.
On ``--device cuda`` the steps are timed with the device synchronised, in fp32 and bf16
(tools/gpu/train.sh runs it before a stretch: is the GPU or the loader the limit?).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from centrifuge.losses import pit_loss
from centrifuge.models import create_model
from centrifuge.precision import cpu_header, resolve_precision

# name: (registered model, its arguments)
NETWORKS = {
    "small": ("centrifuge_small", {}),
    "small-narrow": ("centrifuge_small", {"widths": [8, 16, 32, 64]}),
    "small-wide": ("centrifuge_small", {"widths": [24, 48, 96, 192]}),
    "cpu": ("centrifuge_cpu", {"n_outputs": 2}),
    "paper": ("centrifuge", {"n_outputs": 2}),
}
DEFAULT = ["small:8x64", "small:16x64", "small:8x96", "small-narrow:8x64", "small-wide:8x64",
           "cpu:16x64", "cpu:32x112", "paper:32x112"]


def parse(candidate: str) -> tuple[str, int, int]:
    name, _, size = candidate.partition(":")
    frames, side = size.lower().split("x")
    if name not in NETWORKS:
        raise SystemExit(f"budget.py: unknown network {name!r}; use {', '.join(NETWORKS)}")
    return name, int(frames), int(side)


def step_seconds(model, x, targets, dtype, steps: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    device = x.device.type
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    for i in range(steps + 1):
        sync()
        t = time.perf_counter()
        with torch.autocast(device, dtype, enabled=dtype != torch.float32):
            out = model(x)
        pit_loss(out.float(), targets).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        if i:  # the first step allocates (and on a GPU picks its kernels)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--candidates", nargs="+", default=DEFAULT, metavar="NET:TxS")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("budget.py: --device cuda, but torch sees no GPU")
        torch.backends.cudnn.benchmark = True  # as training on a GPU does
    native = resolve_precision("auto", device.type).name == "bf16"
    print(cpu_header() if device.type == "cpu" else
          f"{torch.cuda.get_device_name(device)} · torch {torch.__version__}")
    print(f"batch {args.batch}, median of {args.steps} steps; bf16 "
          f"{'native' if native else 'emulated: not measured'}\n")
    precisions = [torch.float32, torch.bfloat16] if native else [torch.float32]
    head = " | ".join(f"{'bf16' if d == torch.bfloat16 else 'fp32'} {k}"
                      for d in precisions for k in ("blends/s", "blends / 3 h"))
    print(f"| network | clip | params (M) | GFLOP per training blend | {head} |")
    print("|---|---|---|---|" + "---|" * (2 * len(precisions)))
    for candidate in args.candidates:
        name, frames, side = parse(candidate)
        registered, kwargs = NETWORKS[name]
        torch.manual_seed(0)
        model = create_model(registered, **kwargs).to(device,
                                                       memory_format=torch.channels_last_3d)
        params = sum(q.numel() for q in model.parameters()) / 1e6
        x1 = torch.rand(1, 3, frames, side, side, device=device)
        with FlopCounterMode(display=False) as counter:
            model(x1).float().sum().backward()
        gflop = counter.get_total_flops() / 1e9
        model.zero_grad(set_to_none=True)
        x = torch.rand(args.batch, 3, frames, side, side, device=device).contiguous(
            memory_format=torch.channels_last_3d)
        targets = torch.rand(args.batch, 2, 3, frames, side, side, device=device)
        cells = []
        for dtype in precisions:
            rate = args.batch / step_seconds(model, x, targets, dtype, args.steps)
            cells += [f"{rate:.1f}", f"{rate * 3 * 3600 / 1000:.0f} k"]
        print(f"| {name} | {frames}×{side}² | {params:.2f} | {gflop:.2f} | "
              f"{' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
