"""A learning curve at fixed CPU time: train a model from scratch on procedural blends and
score it on held-out ones, beside the trivial baselines.

    python benchmarks/curve.py --minutes 10                       # centrifuge_small
    python benchmarks/curve.py --args '{"head": "residual"}' --minutes 10 --threads 1
    python benchmarks/curve.py --stages frozen1:600,frozen0 --minutes 20

The held-out set is fixed (seed 777 001, independent of any config's ``data.seed``):
``--held`` transparent α = ½ blends with both layers moving, the hardest synthetic case
and the one ``benchmarks/learnability.py`` reports. ``--stages`` is a curriculum:
comma-separated ``kind[:seconds]`` stages (``frozen1``: one layer static, ``alpha``:
α drawn from [0.25, 0.75], ``frozen0``: both moving at α = ½); the last runs to the
end. A stage may also change the training generator: ``+gentle`` (two backgrounds
panning slowly, no sprites, no camera effects: ``GENTLE``) and ``+matched`` (both layers
the same colour statistics), e.g. ``--stages frozen0+gentle+matched:480,frozen0`` — a
curriculum that lets a network learn to use motion before colour can pay
(docs/motion.md). Two runs side by side with ``--threads 1`` each are an equal-time comparison.
Prints one table row per evaluation; ``--csv`` appends them to a file. With n > 2 outputs
(``--args '{"n_outputs": 4}'``) the held-out ratio matches the best two outputs to the
layers with the ground truth (what training optimises); "kept pair's ratio" scores the
two that ``centrifuge separate --layers 2`` would keep — the number a user gets.
"still ratio" scores the same held-out blends with their motion taken out (every frame
the first, in the mix and the layers): a model that separates by motion does worse
there; one at the same ratio uses single-frame cues only (``benchmarks/plateau.py``).
``--match-colour`` gives both layers of every training and held-out blend the same
per-channel mean and spread (their average) before blending: the palette cue gone,
what is left to separate by is structure and motion.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from torch.utils.data import default_collate

from centrifuge.config import DataConfig
from centrifuge.data.mixing import match_colour
from centrifuge.data.pairs import BlendConfig, BlendedPairs, stack_targets
from centrifuge.data.synthetic import SyntheticConfig
from centrifuge.evaluate.baselines import baseline_losses, without_motion
from centrifuge.evaluate.baselines import identity as baselines_identity
from centrifuge.losses import best_assignment, edge_owner_loss, pit_loss
from centrifuge.models import create_model
from centrifuge.models.checkpoint import save_model
from centrifuge.precision import resolve_precision
from centrifuge.separation.selection import pair_stats
from centrifuge.train.datamodule import make_source, synthetic_val_sets

STAGES = {"frozen1": dict(frozen=1), "frozen0": dict(), "alpha": dict(alpha=[0.25, 0.75])}
STAGE_OPTIONS = ("gentle", "matched")
# the generator on which a network with motion channels first separated by motion
GENTLE = {"sprites": [0, 0], "motion": 0.4, "motion_blur": 0, "noise": 0, "compression": 0,
          "illumination": 0, "coherence": 0.7, "palette": 0.5}


def batch(dataset, indices, match: bool = False):
    b = default_collate([dataset[i] for i in indices])
    if not match:
        return b["mix"], stack_targets(b)
    targets = match_colour(stack_targets(b))
    alpha = b["alpha"][:, None]  # (B, 1, 1, T, H, W) against (B, 2, 3, T, H, W)
    mix = (alpha * targets[:, :1] + (1 - alpha) * targets[:, 1:]).squeeze(1)
    return mix, targets


def parse_stages(text: str) -> list[tuple[str, float, frozenset]]:
    """``kind[+option…][:seconds]`` stages → (kind, seconds, options)."""
    stages = []
    for part in text.split(","):
        name, _, seconds = part.partition(":")
        kind, *options = name.split("+")
        if kind not in STAGES:
            sys.exit(f"curve.py: unknown stage {kind!r}; use {', '.join(STAGES)}")
        bad = [o for o in options if o not in STAGE_OPTIONS]
        if bad:
            sys.exit(f"curve.py: unknown stage option {bad[0]!r}; use "
                     f"{', '.join(STAGE_OPTIONS)}")
        stages.append((kind, float(seconds) if seconds else float("inf"), frozenset(options)))
    return stages


def stage_name(stage) -> str:
    kind, _, options = stage
    return "+".join([kind, *sorted(options)])


def baselines(held) -> tuple[float, float]:
    """(Identity loss, best trivial loss per batch) summed over the held-out batches: they
    do not change while the model trains, so they are computed once."""
    identity = trivial = 0.0
    for mix, targets in held:
        base = {k: v.mean().item() for k, v in baseline_losses(mix, targets).items()}
        identity += base["identity"]
        trivial += min(base.values())
    return identity, trivial


def evaluate(model, held, dtype) -> tuple[float, float, float]:
    """The model's summed loss on the held-out batches: with the best pair of its n outputs
    chosen by the ground truth (what training sees), with the pair ``separate
    --layers 2`` keeps (:mod:`centrifuge.separation.selection`; the same for n = 2), and
    (best pair) on the blends with their motion taken out, over *their* Identity loss."""
    model.eval()
    loss = picked = still = still_identity = 0.0
    with torch.no_grad():
        for mix, targets in held:
            with torch.autocast("cpu", dtype, enabled=dtype != torch.float32):
                out = model(mix).float()
                still_mix = without_motion(mix)
                out_still = model(still_mix).float()
            still_targets = without_motion(targets)
            still += pit_loss(out_still, still_targets).loss.item()
            still_identity += pit_loss(baselines_identity(still_mix), still_targets).loss.item()
            result = pit_loss(out, targets)
            loss += result.loss.item()
            if out.shape[1] == 2:  # nothing to choose
                picked += result.loss.item()
                continue
            # the kept pair's loss from the same target × output matrix, not a second pass
            kept = torch.stack([pw[:, list(pair_stats(o, v).pick())]
                                for pw, o, v in zip(result.pairwise, out, mix, strict=True)])
            picked += best_assignment(kept)[0].mean().item()
    model.train()
    return loss, picked, still / still_identity


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="centrifuge_small")
    p.add_argument("--args", default="{}", help="model arguments as JSON")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0,
                   help="initialisation and training-blend seed (held-out blends stay fixed)")
    p.add_argument("--held", type=int, default=64)
    p.add_argument("--stages", default="frozen0")
    p.add_argument("--synthetic", default="{}",
                   help="generator knobs of the *training* blends as JSON, e.g. "
                        "'{\"noise\": 0}' (the held-out set keeps the defaults)")
    p.add_argument("--eval-every", type=float, default=120, help="seconds")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument("--held-synthetic", default="{}",
                   help="generator knobs of the held-out blends too (another test set: its "
                        "ratios compare only with runs on the same one)")
    p.add_argument("--textures", default=None,
                   help="a saved texture bank for the *training* blends (the held-out set "
                        "keeps the default bank, so its ratios still compare)")
    p.add_argument("--texture-frames", type=int, default=DataConfig.texture_frames,
                   help="frames of each corpus train clip in the training bank")
    p.add_argument("--texture-stills", action="store_true",
                   help="the corpus stills in the training bank too")
    p.add_argument("--match-colour", action="store_true",
                   help="same per-channel mean and spread for both layers of every blend")
    p.add_argument("--owner-loss", type=float, default=0.0,
                   help="weight of the edge head's ownership cross-entropy "
                        "(centrifuge.losses.edge_owner_loss) beside the PIT loss")
    p.add_argument("--csv", default=None)
    p.add_argument("--label", default=None)
    p.add_argument("--save", default=None,
                   help="write the final weights here (.safetensors), e.g. to score them "
                        "with learnability.py or centrifuge evaluate")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    precision = resolve_precision(args.precision, torch.device("cpu"))
    dtype = precision.dtype
    model = create_model(args.model, **json.loads(args.args))
    model = model.to(memory_format=torch.channels_last_3d)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    held_config = DataConfig(source="synthetic", frames=args.frames, size=args.size,
                             synthetic=SyntheticConfig(**json.loads(args.held_synthetic)),
                             val_synthetic=args.held)
    held_data = synthetic_val_sets(held_config)["transparent"]
    def source(knobs: dict):
        return make_source(DataConfig(source="synthetic", frames=args.frames, size=args.size,
                                      synthetic=SyntheticConfig(**knobs),
                                      textures=args.textures,
                                      texture_frames=args.texture_frames,
                                      texture_stills=args.texture_stills), None)

    train_source = source(json.loads(args.synthetic))
    held = [batch(held_data, range(k, min(k + 8, args.held)), args.match_colour)
            for k in range(0, args.held, 8)]
    identity, trivial_loss = baselines(held)
    stages = parse_stages(args.stages)
    label = args.label or f"{args.model} {args.args} {args.stages}"
    print(f"# {label}: {params:.2f} M params, {args.frames}×{args.size}², batch {args.batch}, "
          f"{precision.name} ({precision.reason}), {torch.get_num_threads()} threads")
    print("| seconds | blends | stage | held-out ratio | kept pair's ratio | best trivial | "
          "still ratio |\n|---|---|---|---|---|---|---|")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    start = time.perf_counter()
    budget = args.minutes * 60
    seen = step = 0
    next_eval = 0.0
    stage_start, stage_i = 0.0, 0
    data = None
    while True:
        now = time.perf_counter() - start
        if now >= next_eval or now >= budget:
            loss, picked, still = evaluate(model, held, dtype)
            ratio, kept, trivial = loss / identity, picked / identity, trivial_loss / identity
            name = stage_name(stages[stage_i])
            row = (f"| {now:.0f} | {seen} | {name} | {ratio:.3f} | {kept:.3f} | "
                   f"{trivial:.3f} | {still:.3f} |")
            print(row, flush=True)
            if args.csv:
                with open(args.csv, "a") as f:
                    f.write(f"{label}\t{now:.0f}\t{seen}\t{name}\t{ratio:.4f}\t"
                            f"{trivial:.4f}\t{kept:.4f}\t{still:.4f}\n")
            next_eval = now + args.eval_every
            if now >= budget:
                if args.save:
                    save_model(args.save, model.to(memory_format=torch.contiguous_format),
                               metrics={"blends": seen, "held_out_ratio": ratio,
                                        "kept_pair_ratio": kept})
                break
        if now - stage_start >= stages[stage_i][1] and stage_i + 1 < len(stages):
            stage_i, stage_start, data = stage_i + 1, now, None
        kind, _, options = stages[stage_i]
        if data is None:
            data = BlendedPairs(source(GENTLE) if "gentle" in options else train_source,
                                10**9, seed=1000 + stage_i + 100 * args.seed,
                                blend=BlendConfig(**{"alpha": 0.5, **STAGES[kind]}))
        mix, targets = batch(data, range(step * args.batch, (step + 1) * args.batch),
                             args.match_colour or "matched" in options)
        with torch.autocast("cpu", dtype, enabled=dtype != torch.float32):
            res = model.forward_dict(mix.contiguous(memory_format=torch.channels_last_3d))
        loss = pit_loss(res["outputs"].float(), targets).loss
        if args.owner_loss:
            loss = loss + args.owner_loss * edge_owner_loss(res["owners"], mix, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += args.batch


if __name__ == "__main__":
    main()
