"""Does data loading keep up with training? ``python benchmarks/loader.py [--config cpu2]``.

    python benchmarks/loader.py                                   # the cpu2 recipe, 16×64²
    python benchmarks/loader.py data.frames=32 data.size=112 data.batch_size=4   # 32×112²

Prints blended items/s of the training loader for each data source (corpus clips,
synthetic video, both mixed) and blend (transparent, occlusion), with 1 and 2 DataLoader
workers, next to the items/s a training step of the same config consumes (bf16 autocast
+ channels_last_3d on this CPU), and their ratio. Loader throughput is measured alone,
then training alone: in a real run they share the cores, so the loader should be
comfortably faster (the goal: ≥ 5×).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader

from centrifuge.config import load_config
from centrifuge.data.pairs import BlendedPairs
from centrifuge.data.pairs import stack_targets as targets_of
from centrifuge.losses import pit_loss
from centrifuge.models import create_model
from centrifuge.models.registry import scratch_args
from centrifuge.precision import cpu_header, resolve_precision
from centrifuge.train.datamodule import BlendedDataModule

BF16 = resolve_precision("auto", "cpu").name == "bf16"  # the training step's precision

def loader_rate(cfg, source: str, blend: str, workers: int, batches: int) -> float:
    d = cfg.data
    d.source = source
    sampler = BlendedDataModule(d, total_batches=1).train_source()
    d.blend = blend
    data = BlendedPairs(sampler, (batches + 20) * d.batch_size, seed=0,
                        blend=d.blend_config())
    loader = DataLoader(data, batch_size=d.batch_size, num_workers=workers,
                        persistent_workers=workers > 0)
    it = iter(loader)
    # Warm-up: workers start and (with the cache) decode the corpus once.
    for _ in range(min(20, batches)):
        next(it)
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * d.batch_size / (time.perf_counter() - t)


def train_rate(cfg, steps: int) -> float:
    d = cfg.data
    torch.manual_seed(0)
    args = scratch_args(cfg.model.args)  # speed only: weights don't matter
    model = create_model(cfg.model.name, **args).to(memory_format=torch.channels_last_3d)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    batch = {k: torch.rand(d.batch_size, 3, d.frames, d.size, d.size) for k in ("v1", "v2")}
    mix = (0.5 * (batch["v1"] + batch["v2"])).contiguous(memory_format=torch.channels_last_3d)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=BF16):
            out = model(mix)
        pit_loss(out.float(), targets_of(batch)).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:
            times.append(time.perf_counter() - t)
    return d.batch_size / statistics.median(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="cpu2")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--sources", nargs="+", default=["corpus", "synthetic", "mixed"],
                   choices=["corpus", "synthetic", "mixed"])
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    d = cfg.data
    print(cpu_header())
    print(f"config {args.config}: {d.frames}×{d.size}² clips, batch {d.batch_size}, "
          f"cache {d.cache}, torch threads {torch.get_num_threads()}")
    step = train_rate(cfg, args.steps)
    print(f"training step ({cfg.model.name}, {'bf16' if BF16 else 'fp32'}+CL): "
          f"{step:.1f} items/s\n")
    print("| source | blend | workers | items/s | × training |")
    print("|---|---|---|---|---|")
    for source in args.sources:
        for blend in ("transparent", "occlusion"):
            for workers in args.workers:
                rate = loader_rate(cfg, source, blend, workers, args.batches)
                print(f"| {source} | {blend} | {workers} | {rate:.1f} | {rate / step:.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
