"""Does data loading keep up with training? ``python benchmarks/loader.py [--config cpu]``.

    python benchmarks/loader.py                                   # stage 1 of the cpu recipe
    python benchmarks/loader.py data.frames=32 data.size=112 data.batch_size=4   # stage 2


Prints clips/s of the training loader (transparent and occlusion blends, 1 and 2
DataLoader workers, with the config's cache setting) next to the clips/s a training
step of the same config consumes (bf16 autocast + channels_last_3d on this CPU). Loader
throughput is measured alone, then training alone: in a real run they share the cores,
so the loader should be comfortably faster.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader

from centrifuge.config import load_config
from centrifuge.data.datasets import BlendConfig, BlendedPairs, ClipSampler, make_entries
from centrifuge.data.datasets import stack_targets as targets_of
from centrifuge.losses import pit_loss
from centrifuge.models import create_model


def loader_rate(cfg, blend: str, workers: int, batches: int) -> float:
    d = cfg.data
    sampler = ClipSampler(make_entries(d.source, d.root, "train"), frames=d.frames,
                          stride=d.stride, crop=d.size, scale=d.scale, cache=d.cache,
                          zoom=tuple(d.zoom) if d.zoom else None, color_jitter=d.color_jitter,
                          channel_shuffle=d.channel_shuffle, time_reverse=d.time_reverse,
                          rotate=d.rotate, length_power=d.length_power)
    data = BlendedPairs(sampler, (batches + 20) * d.batch_size, seed=0,
                        blend=BlendConfig(blend=blend, superpixels=d.superpixels))
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
    args = {**cfg.model.args, "encoder_init": "scratch"}  # speed only: weights don't matter
    model = create_model(cfg.model.name, **args).to(memory_format=torch.channels_last_3d)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    batch = {k: torch.rand(d.batch_size, 3, d.frames, d.size, d.size) for k in ("v1", "v2")}
    mix = (0.5 * (batch["v1"] + batch["v2"])).contiguous(memory_format=torch.channels_last_3d)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16):
            out = model(mix)
        pit_loss(out.float(), targets_of(batch)).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:
            times.append(time.perf_counter() - t)
    return d.batch_size / statistics.median(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="cpu")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    d = cfg.data
    print(f"config {args.config}: {d.frames}×{d.size}² clips, batch {d.batch_size}, "
          f"cache {d.cache}, torch threads {torch.get_num_threads()}")
    print("| what | clips/s |")
    print("|---|---|")
    for blend in ("transparent", "occlusion"):
        for workers in (1, 2):
            rate = loader_rate(cfg, blend, workers, args.batches)
            print(f"| loader, {blend}, {workers} worker{'s' * (workers > 1)} | {rate:.1f} |",
                  flush=True)
    print(f"| training step ({cfg.model.name}, bf16+CL) | {train_rate(cfg, args.steps):.1f} |")


if __name__ == "__main__":
    main()
