"""Model size, FLOPs and speed on this machine: ``python benchmarks/models.py``.

For each model and clip size: parameters, forward GFLOPs (``torch.utils.flop_counter``),
and the median seconds of a forward pass and of a training step (batch 1, PIT loss,
SGD) in fp32 and in bf16 autocast with ``channels_last_3d``, and the bf16 forward's
share of this machine's measured bf16 matmul peak. Prints a markdown table.

    python benchmarks/models.py                       # the README table
    python benchmarks/models.py --sizes 16x64 --models centrifuge_tiny --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch
from torch.utils.flop_counter import FlopCounterMode

from centrifuge.losses import pit_loss
from centrifuge.models import create_model
from centrifuge.precision import cpu_header, resolve_precision

DEFAULT_MODELS = ["centrifuge", "centrifuge_pc", "centrifuge_cpu"]


def parse_size(text: str) -> tuple[int, int]:
    t, s = text.lower().split("x")
    return int(t), int(s)


def timed(fn, reps: int, device) -> float:
    fn()  # warm-up (allocations, oneDNN primitive creation)
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def forward(model, x, bf16: bool) -> None:
    model.eval()
    with torch.no_grad(), torch.autocast(x.device.type, torch.bfloat16, enabled=bf16):
        model(x)


def train_step(model, x, targets, opt, bf16: bool) -> None:
    model.train()
    with torch.autocast(x.device.type, torch.bfloat16, enabled=bf16):
        out = model(x)
    pit_loss(out.float(), targets).loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def matmul_peak(device, dtype=torch.bfloat16, reps: int = 5, verbose: bool = False) -> float:
    """GFLOP/s of the fastest of a few large bf16 kernels (square matmuls, a
    channels-last 3×3×3 Conv3d): the most this device's kernels reach, the reference
    for the model's share. It is a measured peak, not the chip's arithmetic one (on the
    2-core CPU ``../shared/notes/cpu-performance.md`` quotes 790 GFLOP/s; no kernel tried
    here gets near it)."""
    rates = {}
    for n in (2048, 3072):
        a = torch.rand(n, n, device=device).to(dtype)
        b = torch.rand(n, n, device=device).to(dtype)
        rates[f"{n}² matmul"] = 2 * n**3 / timed(lambda a=a, b=b: a @ b, reps, device) / 1e9
    fmt = torch.channels_last_3d
    conv = torch.nn.Conv3d(256, 256, 3, padding=1, bias=False).to(device, dtype, memory_format=fmt)
    x = torch.rand(1, 256, 16, 56, 56, device=device).to(dtype).contiguous(memory_format=fmt)
    with torch.no_grad():
        seconds = timed(lambda: conv(x), reps, device)
    rates["Conv3d 256→256, 3³, 16×56²"] = 2 * 256 * 256 * 27 * 16 * 56 * 56 / seconds / 1e9
    if verbose:
        print("bf16 kernels (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items()))
    return max(rates.values())


def bench(name: str, frames: int, size: int, device, reps: int, train: bool,
          bf16_ok: bool = True) -> dict:
    torch.manual_seed(0)
    model = create_model(name).to(device)
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(1, 3, frames, size, size, device=device)
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    row = {"model": name, "clip": f"{frames}×{size}²", "params_m": params / 1e6,
           "gflops": counter.get_total_flops() / 1e9}
    targets = torch.rand(1, 2, 3, frames, size, size, device=device)
    row["fwd_bf16"] = row["train_bf16"] = float("nan")
    for mode in ("fp32", "bf16") if bf16_ok else ("fp32",):
        bf16 = mode == "bf16"
        fmt = torch.channels_last_3d if bf16 else torch.contiguous_format
        model = model.to(memory_format=fmt)
        xin = x.contiguous(memory_format=fmt)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        row[f"fwd_{mode}"] = timed(partial(forward, model, xin, bf16), reps, device)
        row[f"train_{mode}"] = (
            timed(partial(train_step, model, xin, targets, opt, bf16), max(1, reps // 2), device)
            if train else float("nan")
        )
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    p.add_argument("--sizes", nargs="+", default=[(32, 112), (64, 224)], type=parse_size,
                   metavar="TxS")
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-train", action="store_true", help="skip the training-step timings")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    print(f"{cpu_header()}, device {device}")
    # Emulated bf16 (no AVX512_BF16/AMX) is 100–200× slower: its columns are skipped.
    bf16_ok = resolve_precision("auto", device).name == "bf16"
    peak = matmul_peak(device, verbose=True) if bf16_ok else float("nan")
    print(f"bf16 peak (fastest of these): {peak:.0f} GFLOP/s\n" if bf16_ok else
          "bf16: emulated on this CPU, not measured\n")
    print("| model | clip | params (M) | fwd GFLOP | fwd fp32 (s) | fwd bf16+CL (s) "
          "| bf16 fwd, % of peak | train fp32 (s) | train bf16+CL (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        for frames, size in args.sizes:
            r = bench(name, frames, size, device, args.reps, not args.no_train, bf16_ok)
            print(f"| {r['model']} | {r['clip']} | {r['params_m']:.2f} | {r['gflops']:.1f} | "
                  f"{r['fwd_fp32']:.3f} | {r['fwd_bf16']:.3f} | "
                  f"{100 * r['gflops'] / r['fwd_bf16'] / peak:.0f} % | {r['train_fp32']:.3f} | "
                  f"{r['train_bf16']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
