"""Unmixing quality on seeded corpus blends: the numbers of the model card.

For each blend (transparent α = 0.5, occlusion with SLIC supervoxels, or ``camera-fixed``:
α = 0.5 with one clip as it is and the other panning, :mod:`centrifuge.data.camera_fixed`;
``camera-fixed-reflection``: the same two clips, the fixed one a faint reflection)
of two clips of the corpus ``val`` split (never trained on, fixed seed: every machine
evaluates the same blends), the model's n outputs are scored twice:

* **oracle pick** — the best 2 of the n outputs chosen with the ground truth (the PIT
  assignment), the paper's protocol;
* **product pick** — the 2 outputs ``centrifuge separate --layers 2`` keeps
  (:mod:`centrifuge.separation.selection`), then matched to the two layers.

Per blend type and pick: the ratio of the mean PIT loss to the Identity baseline's (both
outputs = the mix; the paper's trained Centrifuge: 0.41–0.52× on Kinetics), the ratio to
the **best trivial baseline** (:mod:`centrifuge.evaluate.baselines`: the mix beside a
flat colour, grey, or a blur of itself — a model separates only below 1 there), the
worst blend's own ratio (and its two clips), and the share of blends worse than
Identity; plus PSNR (dB) and SSIM of each matched layer, and of the mix itself against
each layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from centrifuge.data.camera_fixed import CAMERA_FIXED_REFLECTION, CameraFixedPairs
from centrifuge.data.clips import ClipSampler
from centrifuge.data.entries import make_entries
from centrifuge.data.pairs import BlendConfig, BlendedPairs, stack_targets
from centrifuge.data.two_motion import TWO_MOTION, TWO_MOTION_REFLECTION, TwoMotionPairs
from centrifuge.evaluate import baselines
from centrifuge.evaluate.baselines import baseline_losses, best_trivial
from centrifuge.evaluate.ceilings import told_mask
from centrifuge.evaluate.occlusion import part_scores, scene_from_other_frames
from centrifuge.losses import align, best_assignment, pairwise_loss
from centrifuge.separation.inference import Separator
from centrifuge.separation.selection import DEFAULT_RULE, RULES, pair_stats

EVAL_SEED = 20190615
# real clips, one fixed to the camera and one panning (data/camera_fixed.py)
CAMERA_FIXED = "camera-fixed"
BLENDS = ("transparent", "occlusion", CAMERA_FIXED, CAMERA_FIXED_REFLECTION, TWO_MOTION,
          TWO_MOTION_REFLECTION)


@dataclass
class PickEval:
    """Scores of one way of choosing 2 layers, over all blends of one type."""

    loss: float  # mean PIT loss
    ratio: float  # mean loss / mean Identity loss
    worst_ratio: float  # the highest per-blend ratio
    worst_pair: str  # its two clips
    worse_share: float  # share of blends with a loss above Identity's
    psnr: tuple[float, float]
    ssim: tuple[float, float]
    vs_trivial: float = float("nan")  # mean loss / the best trivial baseline's mean loss


@dataclass
class BlendEval:
    blend: str
    samples: int
    identity: float
    identity_psnr: tuple[float, float]
    identity_ssim: tuple[float, float]
    oracle: PickEval
    product: PickEval
    rules: dict[str, PickEval] = field(default_factory=dict)  # every selection rule
    baselines: dict[str, float] = field(default_factory=dict)  # trivial answers' mean loss
    best_trivial: str = "identity"
    # occlusion blends: what the blend holds, per answer (evaluate/occlusion.py)
    parts: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.oracle.ratio


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB over ``(..., 3, T, H, W)`` for signals in [0, 1]."""
    return psnr_of_mse(mse(a, b))


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared difference over ``(..., 3, T, H, W)``: ``(...)``."""
    return ((a - b) ** 2).flatten(-4).mean(-1)


def psnr_of_mse(value: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of a mean squared error of signals in [0, 1] (held at 100 dB for 0)."""
    return 10 * torch.log10(1.0 / value.clamp_min(1e-10))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004: 11×11 Gaussian window, σ 1.5, K 0.01 / 0.03) of each
    frame and colour channel, over ``(..., 3, T, H, W)`` in [0, 1]; frames smaller than the
    window use a window of their own size."""
    a, b = torch.broadcast_tensors(a.float(), b.float())
    lead = a.shape[:-4]
    h, w = a.shape[-2:]
    size = min(11, h, w)
    win = _gaussian_window(size, 1.5 * size / 11).to(a.device)
    x = a.reshape(-1, 1, h, w)
    y = b.reshape(-1, 1, h, w)

    def blur(t):
        return F.conv2d(t, win)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.reshape(*lead, -1).mean(-1)


@dataclass
class BlendScores:
    """Per-sample scores of outputs ``(B, k, 3, T, H, W)`` against targets ``(B, 2, ...)``."""

    loss: torch.Tensor  # (B,) PIT loss of the outputs
    identity: torch.Tensor  # (B,) PIT loss of the Identity baseline
    psnr: torch.Tensor  # (B, 2) PSNR of the matched outputs
    identity_psnr: torch.Tensor  # (B, 2) PSNR of the mix
    ssim: torch.Tensor  # (B, 2) SSIM of the matched outputs
    identity_ssim: torch.Tensor  # (B, 2) SSIM of the mix


# Frames scored at once: every score is a mean over frames, so a long clip is scored in
# spans of this many and the spans' means averaged by length — the same numbers, with the
# intermediates (SSIM's five blurred copies, the pairwise differences) of one span only
# (the whole 120-frame demo at 352×288 took 7 GB scored at once).
SCORE_FRAMES = 16


def score_blend(outputs: torch.Tensor, mix: torch.Tensor, targets: torch.Tensor,
                *, frames: int = SCORE_FRAMES) -> BlendScores:
    """The model card's scores for a batch of blends ``mix`` ``(B, 3, T, H, W)``, outputs
    ``(B, n, 3, T, H, W)`` and targets ``(B, m, 3, T, H, W)``, ``frames`` at a time; each
    float in [0, 1], or uint8 frames as decoded (turned into floats a span at a time)."""
    t = mix.shape[-3]
    spans = [(s, min(t, s + frames)) for s in range(0, t, frames)]

    def mean_over(fn):
        return sum(fn(slice(a, b)) * ((b - a) / t) for a, b in spans)

    def cut(x, span):
        x = x[..., span, :, :]
        return x.float() / 255 if x.dtype == torch.uint8 else x

    cost = mean_over(lambda s: pairwise_loss(cut(targets, s), cut(outputs, s)))
    loss, assignment = best_assignment(cost)
    ident, _ = best_assignment(mean_over(
        lambda s: pairwise_loss(cut(targets, s), baselines.identity(cut(mix, s)))))

    def matched(s):
        return align(cut(outputs, s), assignment)

    mix_t = mix[:, None]
    return BlendScores(
        loss, ident,
        psnr_of_mse(mean_over(lambda s: mse(matched(s), cut(targets, s)))),
        psnr_of_mse(mean_over(lambda s: mse(cut(mix_t, s), cut(targets, s)))),
        mean_over(lambda s: ssim(matched(s), cut(targets, s))),
        mean_over(lambda s: ssim(cut(mix_t, s), cut(targets, s))))


def _pick_eval(loss: torch.Tensor, identity: torch.Tensor, layer_psnr: torch.Tensor,
               layer_ssim: torch.Tensor, pairs: list[str], trivial: float) -> PickEval:
    per = loss / identity
    worst = int(per.argmax())
    return PickEval(float(loss.mean()), float(loss.mean() / identity.mean()),
                    float(per[worst]), pairs[worst], float((loss > identity).double().mean()),
                    tuple(float(v) for v in layer_psnr.double().mean(0)),
                    tuple(float(v) for v in layer_ssim.double().mean(0)),
                    float(loss.mean()) / trivial)


def corpus_blends(blend: str, samples: int, frames: int, size: int, root: str | None,
                  split: str) -> Dataset:
    """The seeded ``blend`` blends of the corpus ``split`` that ``centrifuge evaluate``
    scores."""
    entries = make_entries("corpus", root, split)
    if blend in (CAMERA_FIXED, CAMERA_FIXED_REFLECTION):
        return CameraFixedPairs(entries, samples, frames=frames, size=size, seed=EVAL_SEED,
                                reflection=blend == CAMERA_FIXED_REFLECTION)
    if blend in (TWO_MOTION, TWO_MOTION_REFLECTION):
        return TwoMotionPairs(entries, samples, frames=frames, size=size, seed=EVAL_SEED,
                              reflection=blend == TWO_MOTION_REFLECTION)
    sampler = ClipSampler(entries, frames=frames, crop=size, train=False, cache=True)
    return BlendedPairs(sampler, samples, seed=EVAL_SEED, blend=BlendConfig(blend=blend))


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
    product_rule: str = DEFAULT_RULE,
    progress: bool = True,
    data: Dataset | None = None,
) -> BlendEval:
    """Evaluate ``separator``'s model on seeded blends of the corpus ``split``, or on
    ``data``, items like :class:`~centrifuge.data.pairs.BlendedPairs`' (``blend`` is then
    only their label; ``benchmarks/stills_glass.py`` scores photographs this way)."""
    if data is None:
        data = corpus_blends(blend, samples, frames, size, root, split)
    loader = DataLoader(data, batch_size=batch_size, collate_fn=_collate)
    oracle, ident, rules = [], [], {r: [] for r in RULES}
    oracle_psnr, mix_psnr, rule_psnr = [], [], {r: [] for r in RULES}
    oracle_ssim, mix_ssim, rule_ssim = [], [], {r: [] for r in RULES}
    trivial: dict[str, list[torch.Tensor]] = {}
    parts: dict[str, list[dict[str, torch.Tensor]]] = {}
    pairs: list[str] = []
    for batch in tqdm(loader, desc=f"evaluating ({blend})", disable=not progress, leave=False):
        mix, targets = batch["mix"], stack_targets(batch)
        outputs = torch.stack([separator.separate(v) for v in mix])
        s = score_blend(outputs, mix, targets)
        oracle.append(s.loss)
        ident.append(s.identity)
        oracle_psnr.append(s.psnr)
        mix_psnr.append(s.identity_psnr)
        oracle_ssim.append(s.ssim)
        mix_ssim.append(s.identity_ssim)
        for name, value in baseline_losses(mix, targets).items():
            trivial.setdefault(name, []).append(value)
        if blend == "occlusion":
            for name, answer in occlusion_answers(outputs, mix, targets, batch["alpha"]):
                parts.setdefault(name, []).append(part_scores(answer, targets,
                                                              batch["alpha"]))
        pairs += [f"{m['source1']} + {m['source2']}" for m in batch["meta"]]
        stats = [pair_stats(o, v) for o, v in zip(outputs, mix, strict=True)]
        for rule in RULES:
            kept = torch.tensor([st.pick(rule) for st in stats])
            chosen = outputs[torch.arange(len(outputs))[:, None], kept]
            r = score_blend(chosen, mix, targets)
            rules[rule].append(r.loss)
            rule_psnr[rule].append(r.psnr)
            rule_ssim[rule].append(r.ssim)
    ident_t = torch.cat(ident)
    trivial_loss = {k: float(torch.cat(v).mean()) for k, v in trivial.items()}
    best, best_loss = best_trivial(trivial_loss)
    by_rule = {r: _pick_eval(torch.cat(rules[r]), ident_t, torch.cat(rule_psnr[r]),
                             torch.cat(rule_ssim[r]), pairs, best_loss)
               for r in RULES}
    return BlendEval(
        blend, len(data), float(ident_t.mean()),
        tuple(float(v) for v in torch.cat(mix_psnr).double().mean(0)),
        tuple(float(v) for v in torch.cat(mix_ssim).double().mean(0)),
        _pick_eval(torch.cat(oracle), ident_t, torch.cat(oracle_psnr), torch.cat(oracle_ssim),
                   pairs, best_loss),
        by_rule[product_rule], by_rule, trivial_loss, best,
        {name: {k: float(torch.cat([b[k] for b in batches]).mean()) for k in batches[0]}
         for name, batches in parts.items()},
    )


def occlusion_answers(outputs, mix, targets, alpha):
    """``(name, outputs)`` of the answers the occlusion table scores: the method, the blend
    itself, and the told-mask ceilings (the scene filled from around the occluder, or from
    the frames where the same pixel shows it)."""
    told = told_mask(mix, targets, alpha)
    ever = (alpha <= 0.5).any(dim=2, keepdim=True)  # pixels some frame shows the scene at
    yield "method", outputs
    yield "identity", torch.stack([mix, mix], dim=1)
    yield "told mask", told
    yield "told mask + other frames", torch.stack(
        [told[:, 0], torch.where(ever, scene_from_other_frames(mix, alpha), told[:, 1])], dim=1)


def _collate(items: list[dict]) -> dict:
    out = {k: torch.stack([it[k] for it in items]) for k in ("mix", "v1", "v2", "alpha")}
    out["meta"] = [it["meta"] for it in items]
    return out


def format_parts(results: list[BlendEval], model_name: str) -> str:
    """The occlusion table of what the blend holds (evaluate/occlusion.py), or ''."""
    rows = [r for r in results if r.parts]
    if not rows:
        return ""
    lines = ["", "", "Occlusion, scored on what the blend holds (evaluate/occlusion.py): the "
             "occluder where it shows, the scene wherever some frame shows it (revealed: "
             "its part under the occluder now), the never-seen part apart (a fill).", "",
             "| model | blend | answer | occluder + scene | / Identity | occluder | scene | "
             "revealed (share of pixels) | hidden (fill) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ident = r.parts["identity"]["total"]
        for name, p in r.parts.items():
            label = model_name if name == "method" else name
            ratio = p["total"] / ident if ident > 0 else float("nan")
            lines.append(f"| {model_name} | {r.blend} | {label} | {p['total']:.4f} | "
                         f"{ratio:.3f} | {p['occluder']:.4f} | {p['scene']:.4f} | "
                         f"{p['revealed']:.4f} ({p['revealed_share']:.1%}) | "
                         f"{p['hidden']:.4f} |")
    return "\n".join(lines)


def format_results(results: list[BlendEval], model_name: str, split: str = "val",
                   *, rules: bool = False) -> str:
    """The markdown table: oracle and product pick per blend (``rules``: every rule)."""
    lines = [
        "| model | split | blend | samples | pick | loss | Identity | ratio | best trivial "
        "(ratio) | loss / best trivial | worst blend (ratio) | worse than Identity "
        "| PSNR V¹ / V² (dB) | mix PSNR | SSIM V¹ / V² | mix SSIM |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        picks = [("oracle", r.oracle)]
        picks += [(f"rule {k}", v) for k, v in r.rules.items()] if rules else [
            ("product", r.product)]
        for pick, p in picks:
            trivial = r.baselines.get(r.best_trivial, r.identity) / r.identity
            lines.append(
                f"| {model_name} | {split} | {r.blend} | {r.samples} | {pick} | {p.loss:.4f} | "
                f"{r.identity:.4f} | {p.ratio:.3f} | {r.best_trivial} ({trivial:.3f}) | "
                f"**{p.vs_trivial:.3f}** | {p.worst_pair} ({p.worst_ratio:.2f}) | "
                f"{100 * p.worse_share:.0f} % | {p.psnr[0]:.2f} / {p.psnr[1]:.2f} | "
                f"{r.identity_psnr[0]:.2f} / {r.identity_psnr[1]:.2f} | "
                f"{p.ssim[0]:.3f} / {p.ssim[1]:.3f} | "
                f"{r.identity_ssim[0]:.3f} / {r.identity_ssim[1]:.3f} |"
            )
    return "\n".join(lines) + format_parts(results, model_name)


def _rounded(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float):
            v = round(v, 5) if math.isfinite(v) else None
        elif isinstance(v, tuple):
            v = [round(x, 3) for x in v]
        elif isinstance(v, dict):
            v = _rounded(v)
        out[k] = v
    return out


def as_dict(r: BlendEval) -> dict:
    import dataclasses

    d = dataclasses.asdict(r)
    d["ratio"] = r.ratio
    return _rounded(d)
