"""Unmixing quality on seeded corpus blends: the numbers of the model card.

For each blend (transparent α = 0.5, or occlusion with SLIC supervoxels) the model's
outputs are matched to the two ground-truth layers by the PIT assignment; reported per
blend type:

* PIT loss of the model and of the Identity baseline (both outputs = the mix), and their
  ratio (the paper's trained Centrifuge: 0.41–0.52× Identity on Kinetics);
* PSNR (dB) of each matched layer, and of the mix itself against each layer.

The blends are :class:`BlendedPairs` over the corpus ``val`` split (clips never trained
on) with a fixed seed, so every machine evaluates the same clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from centrifuge.data.datasets import (
    BlendConfig,
    BlendedPairs,
    ClipSampler,
    make_entries,
    stack_targets,
)
from centrifuge.inference import Separator
from centrifuge.losses import align, pit_loss

EVAL_SEED = 20190615


@dataclass
class BlendEval:
    blend: str
    samples: int
    loss: float
    identity: float
    psnr: tuple[float, float]
    identity_psnr: tuple[float, float]

    @property
    def ratio(self) -> float:
        return self.loss / self.identity


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB over ``(..., 3, T, H, W)`` for signals in [0, 1]."""
    mse = ((a - b) ** 2).flatten(-4).mean(-1).clamp_min(1e-10)
    return 10 * torch.log10(1.0 / mse)


@dataclass
class BlendScores:
    """Per-sample scores of outputs ``(B, n, 3, T, H, W)`` against targets ``(B, 2, ...)``."""

    loss: torch.Tensor  # (B,) PIT loss of the outputs
    identity: torch.Tensor  # (B,) PIT loss of the Identity baseline
    psnr: torch.Tensor  # (B, 2) PSNR of the matched outputs
    identity_psnr: torch.Tensor  # (B, 2) PSNR of the mix


def score_blend(outputs: torch.Tensor, mix: torch.Tensor, targets: torch.Tensor) -> BlendScores:
    """The model card's scores for a batch of blends ``mix`` ``(B, 3, T, H, W)``."""
    res = pit_loss(outputs, targets)
    ident = pit_loss(torch.stack([mix, mix], 1), targets)
    return BlendScores(res.per_sample, ident.per_sample,
                       psnr(align(outputs, res.assignment), targets),
                       psnr(mix[:, None], targets))


def evaluate_blends(
    separator: Separator,
    *,
    blend: str = "transparent",
    samples: int = 64,
    frames: int = 32,
    size: int = 112,
    root: str | None = None,
    split: str = "val",
    batch_size: int = 4,
    progress: bool = True,
) -> BlendEval:
    """Evaluate ``separator``'s model on seeded blends of the corpus ``split``."""
    sampler = ClipSampler(make_entries("corpus", root, split), frames=frames, crop=size,
                          train=False, cache=True)
    data = BlendedPairs(sampler, samples, seed=EVAL_SEED, blend=BlendConfig(blend=blend))
    loader = DataLoader(data, batch_size=batch_size)
    model_loss = ident_loss = 0.0
    layer_psnr = torch.zeros(2, dtype=torch.float64)
    mix_psnr = torch.zeros(2, dtype=torch.float64)
    for batch in tqdm(loader, desc=f"evaluating ({blend})", disable=not progress, leave=False):
        mix, targets = batch["mix"], stack_targets(batch)
        outputs = torch.stack([separator.separate(v) for v in mix])
        s = score_blend(outputs, mix, targets)
        model_loss += float(s.loss.sum())
        ident_loss += float(s.identity.sum())
        layer_psnr += s.psnr.double().sum(0)
        mix_psnr += s.identity_psnr.double().sum(0)
    n = len(data)
    return BlendEval(
        blend, n, model_loss / n, ident_loss / n,
        tuple(float(v) / n for v in layer_psnr), tuple(float(v) / n for v in mix_psnr),
    )


def format_results(results: list[BlendEval], model_name: str, split: str = "val") -> str:
    lines = [
        "| model | split | blend | samples | loss | Identity | ratio | PSNR V¹ / V² (dB) "
        "| mix PSNR V¹ / V² (dB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {model_name} | {split} | {r.blend} | {r.samples} | {r.loss:.4f} | "
            f"{r.identity:.4f} | {r.ratio:.3f} | {r.psnr[0]:.2f} / {r.psnr[1]:.2f} | "
            f"{r.identity_psnr[0]:.2f} / {r.identity_psnr[1]:.2f} |"
        )
    return "\n".join(lines)


def as_dict(r: BlendEval) -> dict:
    d = dict(r.__dict__)
    d["ratio"] = r.ratio
    d["psnr"] = list(r.psnr)
    d["identity_psnr"] = list(r.identity_psnr)
    return {k: (round(v, 5) if isinstance(v, float) and math.isfinite(v) else v)
            for k, v in d.items()}
