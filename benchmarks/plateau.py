"""Which blends does a model separate? Per-blend ratios against what tells the layers apart.

    python benchmarks/plateau.py -n runs/small/last.safetensors --frames 8 --size 64 \\
        --synthetic '{"coherence": 0.7, "palette": 0.5}'

Every model of the campaign stalls near 0.89× Identity on held-out synthetic transparent
blends (docs/campaign.md). An average hides *which* blends it separates. For each of the
held-out α = ½ blends (those of ``benchmarks/learnability.py``) this scores the model's
PIT loss over Identity's, and measures, on the true layers, the cues a separator could use:

* ``colour``: L1 distance between the two layers' mean colours (a palette cue, needs no
  motion);
* ``motion``: how far apart the layers' global motions are, in pixels over the clip
  (phase correlation of each layer's first and last frame; the generator's zoom and
  rotation make it approximate);
* ``contrast``: |log| of the ratio of the layers' standard deviations (one layer
  dominating the blend);
* ``detail``: |log| of the ratio of their mean gradient magnitudes (one sharp, one smooth);
* ``rigidity``: how well each layer is explained by one constant translation — the
  correlation of the layer with itself averaged along its own dominant velocity
  (:mod:`centrifuge.ops.motion`), the mean of the two (1: a rigid pan; what motion-
  compensated input channels, ``centrifuge_small``'s ``motion``, assume);
* ``speed``: the faster layer's dominant velocity, pixels per frame.

Beside them, how often the blend's two dominant velocities (what ``motion`` hands the
network) are both within 0.5 px per frame of the layers' own.

It prints, per cue, the mean ratio in each quartile of that cue (Q1: the layers least
apart) and Spearman's ρ between cue and ratio (negative: the more the cue separates the
layers, the better the model does). The layers of this generator always move apart
(even Q1 of ``motion`` is many pixels), so a flat motion row alone proves little; hence
a second measurement: the same blends with the motion taken out — every frame replaced
by the first, in the mix and in both layers. A model that separates by motion loses its
gain there; one that uses single-frame cues (palette, sharpness) keeps it.

``--real`` takes the blends from the corpus val split instead (the seeded transparent
blends of ``centrifuge evaluate``, real clips never trained on): which real blends a
model separates, and how much real layers move at all — at 8×64² they barely do
(docs/motion.md), so motion is no cue on that yardstick.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch.utils.data import default_collate

from centrifuge.config import DataConfig
from centrifuge.data.clips import ClipSampler
from centrifuge.data.entries import make_entries
from centrifuge.data.pairs import BlendConfig, BlendedPairs, stack_targets
from centrifuge.data.synthetic import SyntheticConfig
from centrifuge.evaluate import baselines
from centrifuge.evaluate.blends import EVAL_SEED
from centrifuge.losses import pit_loss
from centrifuge.ops.motion import compensated_averages, dominant_velocities
from centrifuge.precision import cpu_header, resolve_precision
from centrifuge.pretrained import resolve_model
from centrifuge.train.datamodule import synthetic_val_sets


def translation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(dy, dx) that best maps grey frame ``a`` (H, W) onto ``b``, by phase correlation."""
    cross = torch.fft.fft2(b) * torch.fft.fft2(a).conj()
    surface = torch.fft.ifft2(cross / (cross.abs() + 1e-8)).real
    h, w = surface.shape
    peak = int(surface.argmax())
    dy, dx = peak // w, peak % w
    return torch.tensor([(dy + h // 2) % h - h // 2, (dx + w // 2) % w - w // 2],
                        dtype=torch.float32)


def correlation(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()).clamp_min(1e-8))


def cues(layers: torch.Tensor) -> dict[str, float]:
    """The cues of one blend's two true layers ``(2, 3, T, H, W)``."""
    v1, v2 = layers
    velocity = dominant_velocities(layers, 1)  # (2, 1, 2): each layer alone
    along = compensated_averages(layers, velocity)[:, 0]
    grey = layers.mean(1)  # (2, T, H, W)
    motion = [translation(g[0] - g[0].mean(), g[-1] - g[-1].mean()) for g in grey]

    def grad(v):
        return ((v[..., 1:, :] - v[..., :-1, :]).abs().mean()
                + (v[..., 1:] - v[..., :-1]).abs().mean())

    return {
        "colour": float((v1.mean((1, 2, 3)) - v2.mean((1, 2, 3))).abs().sum()),
        "motion": float((motion[0] - motion[1]).norm()),
        "contrast": abs(float(torch.log(v1.std() / v2.std().clamp_min(1e-6)))),
        "detail": abs(float(torch.log(grad(v1) / grad(v2).clamp_min(1e-6)))),
        "rigidity": (correlation(along[0], v1) + correlation(along[1], v2)) / 2,
        "speed": float(velocity[:, 0].norm(dim=-1).max()),
    }


def velocities_found(mix: torch.Tensor, targets: torch.Tensor, tol: float = 0.5) -> list[bool]:
    """Per blend: are the blend's two dominant velocities, paired the best way, each
    within ``tol`` px/frame of a layer's own dominant velocity?"""
    found = dominant_velocities(mix, 2)  # (B, 2, 2)
    own = torch.stack([dominant_velocities(targets[:, i], 1)[:, 0] for i in range(2)], 1)
    straight = (found - own).norm(dim=-1).amax(1)
    crossed = (found - own.flip(1)).norm(dim=-1).amax(1)
    return (torch.minimum(straight, crossed) <= tol).tolist()


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", "--model", default="default")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--held", type=int, default=128, help="held-out transparent blends")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument("--synthetic", default="{}", help="generator knobs as JSON (a run's "
                   "data.synthetic, e.g. '{\"coherence\": 0.7, \"palette\": 0.5}')")
    p.add_argument("--real", action="store_true",
                   help="blends of the corpus val split (centrifuge evaluate's) instead")
    args = p.parse_args(argv)
    chosen = resolve_precision(args.precision, "cpu")
    print(f"{cpu_header()} · {chosen.name} ({chosen.reason})\n")
    model, name = resolve_model(args.model, torch.device("cpu"))
    model.eval()
    if args.real:
        sampler = ClipSampler(make_entries("corpus", None, "val"), frames=args.frames,
                              crop=args.size, train=False, cache=True)
        data = BlendedPairs(sampler, args.held, seed=EVAL_SEED,
                            blend=BlendConfig(blend="transparent"))
    else:
        data = synthetic_val_sets(DataConfig(
            source="synthetic", frames=args.frames, size=args.size,
            synthetic=SyntheticConfig(**json.loads(args.synthetic)),
            val_synthetic=args.held))["transparent"]
    ratios, still, rows, found = [], [], [], []

    def ratio(mix, targets):
        with torch.autocast("cpu", chosen.dtype, enabled=chosen.name != "fp32"):
            out = model(mix).float()
        return (pit_loss(out, targets).per_sample
                / pit_loss(baselines.identity(mix), targets).per_sample).tolist()

    with torch.no_grad():
        for start in range(0, args.held, 8):
            items = [data[i] for i in range(start, min(start + 8, args.held))]
            batch = default_collate([{k: it[k] for k in ("mix", "v1", "v2")} for it in items])
            mix, targets = batch["mix"], stack_targets(batch)
            ratios += ratio(mix, targets)
            still += ratio(baselines.without_motion(mix), baselines.without_motion(targets))
            rows += [cues(t) for t in targets]
            found += velocities_found(mix, targets)
    ratios, still = np.array(ratios), np.array(still)
    kind = "real val" if args.real else "held-out"
    print(f"{name}: {len(ratios)} {kind} transparent blends ({args.frames}×{args.size}²); "
          f"per-blend ratio to Identity: median {np.median(ratios):.3f}, below 0.8 on "
          f"{np.mean(ratios < 0.8):.0%}, above 1 on {np.mean(ratios > 1):.0%}")
    print(f"mean per-blend ratio {ratios.mean():.3f} moving; {still.mean():.3f} with the motion "
          f"taken out (every frame the first); per blend, still − moving: median "
          f"{np.median(still - ratios):+.3f}")
    rigidity = np.array([r["rigidity"] for r in rows])
    speed = np.array([r["speed"] for r in rows])
    print(f"the layers: rigidity median {np.median(rigidity):.2f} (1: one constant "
          f"translation each), faster layer's speed median {np.median(speed):.1f} px/frame; "
          f"both velocities found in the blend (±0.5 px/frame) for {np.mean(found):.0%}\n")
    print("| cue | Q1 (layers least apart) | Q2 | Q3 | Q4 (most apart) | Spearman ρ | "
          "cue range Q1 / Q4 |")
    print("|---|---|---|---|---|---|---|")
    for cue in rows[0]:
        x = np.array([r[cue] for r in rows])
        order = np.argsort(x)
        quarters = np.array_split(order, 4)
        means = " | ".join(f"{ratios[q].mean():.3f}" for q in quarters)
        print(f"| {cue} | {means} | {spearman(x, ratios):+.2f} | "
              f"{np.median(x[quarters[0]]):.3g} / {np.median(x[quarters[-1]]):.3g} |")


if __name__ == "__main__":
    main()
