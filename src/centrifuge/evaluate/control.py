"""Control accuracy of C3 models on real val blends with sound (ICCV 2019 §4.1, App. C).

Each blend is V = α·V¹ + (1 − α)·V² (transparent, α = 0.5) of two corpus ``val`` clips
from different scenes, V¹ drawn among the clips whose soundtrack is not silent; the
model gets V and V¹'s sound. The output it points to (the lowest control score) is
*correct* under the paper's rule ``ℓ(V¹, O_c) < min_i ℓ(V¹, O_i) + 0.2·(max − min)``
(:func:`~centrifuge.losses.control_correct`); chance is the same rule for a uniformly
random choice. The reconstruction loss (PIT over the outputs) and the Identity
baseline come with it, on the same blends.

``offset_s`` shifts the sound against the picture (Appendix C): at one clip length the
sound no longer overlaps what is seen.

*Sound dependence*: the same blend is also separated with another blend's sound (of
another clip); the share of blends where the picked layer changes — it is closer to V¹
with one sound and to V² with the other — tells whether the control listens at all (for
deterministic control the pick is always slot 1, and it is the slot's content that must
change). A pointer that only learned which slot V¹ tends to land in scores far from
chance (above or below it) on a small val set and never changes its pick.

``source="synthetic"`` blends procedural scenes with their motion soundtracks instead
(:mod:`~centrifuge.data.soundtrack`; seeds never used in training): a check of the
control mechanism where separation itself is easier, not a substitute for real video.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm import tqdm

from centrifuge.data.clips import ClipSampler
from centrifuge.data.entries import make_entries
from centrifuge.data.pairs import BlendConfig, BlendedPairs
from centrifuge.errors import ConfigError
from centrifuge.losses import control_chance, control_correct, pairwise_loss, pit_loss
from centrifuge.separation.inference import Separator

CONTROL_SEED = 20191027


@dataclass
class ControlEval:
    samples: int
    offset_s: float
    loss: float  # mean PIT loss of the outputs
    identity: float  # mean PIT loss of the Identity baseline
    accuracy: float  # share of blends where the pointed output is V¹'s (the paper's rule)
    chance: float  # the same for a random choice
    pairs: list[str]
    sound_dependence: float = float("nan")  # share of picks that change with another sound

    @property
    def ratio(self) -> float:
        return self.loss / self.identity


def evaluate_control(separator: Separator, *, samples: int = 64, frames: int = 32,
                     size: int = 112, root: str | None = None, split: str = "val",
                     offset_s: float = 0.0, source: str = "corpus",
                     progress: bool = True) -> ControlEval:
    """Control accuracy and loss of a C3 ``separator`` on seeded blends with sound."""
    if not separator.takes_audio:
        raise ConfigError(f"model {separator.method.name} has no control by sound; "
                          "control accuracy needs a C3 model")
    if source == "synthetic":
        from centrifuge.data.synthetic import SyntheticSampler
        from centrifuge.data.textures import shared_bank

        sampler = SyntheticSampler(shared_bank(None, corpus=False), frames=frames, crop=size)
    elif source == "corpus":
        sampler = ClipSampler(make_entries("corpus", root, split), frames=frames, crop=size,
                              train=False, cache=True)
    else:
        raise ConfigError(f"source must be corpus or synthetic, got {source!r}")
    data = BlendedPairs(sampler, samples, seed=CONTROL_SEED,
                        blend=BlendConfig(blend="transparent"), audio=True,
                        audio_offset=offset_s)
    loss, ident, correct, chance, pairs, changed = [], [], [], [], [], []
    # Every blend's sound (small) up front, for the sound-dependence check; the blends
    # themselves are made again one at a time (decoded frames are cached), so memory
    # holds one blend, not all of them.
    sounds = [(it["meta"]["source1"], it["audio"]) for it in map(data.__getitem__,
                                                                  range(len(data)))]
    for i in tqdm(range(len(data)), desc=f"control (offset {offset_s:g} s)",
                  disable=not progress, leave=False):
        item = data[i]
        mix = item["mix"]
        layers, scores = separator.separate_segment(mix, item["audio"])
        truth = torch.stack([item["v1"], item["v2"]])[None]  # (1, 2, 3, T, H, W)
        other = next((audio for src, audio in sounds[i + 1 :] + sounds[:i]
                      if src != item["meta"]["source1"]), None)
        if other is not None:
            other_layers, other_scores = separator.separate_segment(mix, other)
            own = pairwise_loss(truth, layers[None, scores.argmin()][None])[0, :, 0]
            alt = pairwise_loss(truth, other_layers[None, other_scores.argmin()][None])[0, :, 0]
            changed.append(float(own.argmin() != alt.argmin()))
        loss.append(pit_loss(layers[None], truth).per_sample)
        ident.append(pit_loss(torch.stack([mix, mix])[None], truth).per_sample)
        desired = pairwise_loss(item["v1"][None, None], layers[None])[:, 0]
        correct.append(control_correct(desired, scores.argmin()[None]))
        chance.append(control_chance(desired))
        pairs.append(f"{item['meta']['source1']} + {item['meta']['source2']}")
    return ControlEval(len(data), offset_s, float(torch.cat(loss).mean()),
                       float(torch.cat(ident).mean()),
                       float(torch.cat(correct).double().mean()),
                       float(torch.cat(chance).double().mean()), pairs,
                       sum(changed) / len(changed) if changed else float("nan"))


def format_control(results: list[ControlEval], model_name: str) -> str:
    lines = ["| model | offset (s) | samples | loss | Identity | ratio | control accuracy | "
             "chance | pick changes with another sound |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {model_name} | {r.offset_s:g} | {r.samples} | {r.loss:.4f} | "
                     f"{r.identity:.4f} | {r.ratio:.3f} | {100 * r.accuracy:.1f} % | "
                     f"{100 * r.chance:.1f} % | {100 * r.sound_dependence:.1f} % |")
    return "\n".join(lines)
