"""The ``moving-occluder`` yardstick: real scenes behind synthetic occluders that move with
their own camera (:mod:`centrifuge.data.occluders`), scored on the scene and the matte.

Per blend and answer:

* **scene** — the answer's scene against the true scene wherever some frame shows that
  scene point (``scene_seen``): eq. (3)'s L1 + ½ gradient L1 over those pixels only
  (:func:`~centrifuge.evaluate.occlusion.masked_loss`). The blend itself (Identity) is
  exact where the scene shows now, so all its loss is the occluder; an answer beats it
  only by bringing the scene back from the frames where the occluder has moved away
  without spoiling what already shows. **revealed**: the same, on the part under the
  occluder now; **hidden**: where no frame shows the scene (a fill, not in the ratio).
* **matte IoU** — the answer's matte (α > ½) against the true one (α > ½), over all pixels
  and frames, for answers that give one.

Answers: the method (its ``scene`` / ``matte`` outputs where it names them, as
``occluder`` does; else the output nearest the true scene, and no matte), the blend,
trivial ones (the blend blurred, the blend's mean colour, the per-pixel median of the
frames — an occluder removal that ignores motion), and two ceilings: the matte solve told
the true motions (:func:`~centrifuge.ops.matte.solve_occlusion`), and told the true matte
as well (the scene from the frames where the true matte is clear).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from centrifuge.data.entries import make_entries
from centrifuge.data.occluders import MOVING_OCCLUDER, MovingOccluderPairs
from centrifuge.evaluate.baselines import blur, mean_colour
from centrifuge.evaluate.occlusion import masked_loss
from centrifuge.ops.matte import solve_occlusion

EVAL_SEED = 1234
TRIVIAL = ("blend blurred", "mean colour", "median of frames")


@dataclass
class OccluderEval:
    """Mean scores per answer over ``samples`` blends: ``scores[answer]`` holds ``scene``,
    ``revealed``, ``hidden``, ``iou`` (None without a matte) and ``worse`` (the share of
    blends whose scene is worse than the blend's)."""

    samples: int
    split: str
    scores: dict[str, dict] = field(default_factory=dict)
    kinds: dict[str, float] = field(default_factory=dict)  # the method's ratio per occluder

    def ratio(self, answer: str = "method") -> float:
        ident = self.scores["identity"]["scene"]
        return self.scores[answer]["scene"] / ident if ident > 0 else float("nan")


def _answers(method, outputs: torch.Tensor, item: dict):
    """``(name, scene (3, T, H, W), matte (1, T, H, W) or None)`` per answer."""
    mix, seen = item["mix"], item["scene_seen"]
    labels = getattr(method, "labels", ())
    if "scene" in labels:
        scene = outputs[labels.index("scene")]
    else:  # a method that does not say which is the scene: the kinder reading
        scene = min(outputs, key=lambda o: float(masked_loss(o[None], item["v2"][None],
                                                             seen[None])))
    matte = outputs[labels.index("matte")][:1] if "matte" in labels else None
    yield "method", scene, matte
    yield "identity", mix, None
    # the trivial answers' second outputs (evaluate/baselines.py; a 5-px blur: the scene
    # wants its detail back, not the low frequencies a 15-px one keeps)
    yield "blend blurred", blur(mix[None], size=5)[0, 1], None
    yield "mean colour", mean_colour(mix[None])[0, 1], None
    yield "median of frames", mix.median(1, keepdim=True).values.expand_as(mix), None
    told = solve_occlusion(mix, item["motion2"], item["motion1"])
    yield "told motions", told.scene, told.matte
    matte = solve_occlusion(mix, item["motion2"], item["motion1"], matte=item["alpha"])
    yield "told motions + matte", matte.scene, item["alpha"]


def _iou(matte: torch.Tensor, alpha: torch.Tensor) -> float:
    a, b = matte > 0.5, alpha > 0.5
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def evaluate_moving_occluder(separator, *, samples: int = 16, frames: int = 32,
                             size: int = 64, root: str | None = None, split: str = "val",
                             progress: bool = True) -> OccluderEval:
    """Score ``separator`` on seeded ``moving-occluder`` blends of the corpus ``split``."""
    data = MovingOccluderPairs(make_entries("corpus", root, split), samples, frames=frames,
                               size=size, seed=EVAL_SEED)
    sums: dict[str, dict[str, list]] = {}
    kinds: dict[str, list[tuple[float, float]]] = {}
    for i in tqdm(range(len(data)), desc=f"evaluating ({MOVING_OCCLUDER})",
                  disable=not progress, leave=False):
        item = data[i]
        outputs = separator.separate(item["mix"])
        seen, covered = item["scene_seen"], item["alpha"] > 0.5
        target = item["v2"][None]
        ident = None
        for name, scene, matte in _answers(separator.method, outputs, item):
            s = {part: float(masked_loss(scene[None], target, where[None]))
                 for part, where in (("scene", seen), ("revealed", seen & covered),
                                     ("hidden", ~seen))}
            ident = s["scene"] if name == "identity" else ident
            s["iou"] = None if matte is None else _iou(matte, item["alpha"])
            for k, v in s.items():
                sums.setdefault(name, {}).setdefault(k, []).append(v)
            if name == "method":
                method_scene = s["scene"]
        sums["method"].setdefault("worse", []).append(float(method_scene > ident))
        kinds.setdefault(item["meta"]["occluder"], []).append((method_scene, ident))
    result = OccluderEval(len(data), split)
    for name, parts in sums.items():
        result.scores[name] = {k: (None if any(v is None for v in vals)
                                   else sum(vals) / len(vals)) for k, vals in parts.items()}
    result.kinds = {k: sum(m for m, _ in v) / max(sum(i for _, i in v), 1e-12)
                    for k, v in kinds.items()}
    return result


def format_moving_occluder(r: OccluderEval, model_name: str) -> str:
    """The markdown table of :func:`evaluate_moving_occluder`'s answers."""
    lines = ["", f"Moving occluder ({r.split}, {r.samples} blends; evaluate/moving_occluder.py): "
             "the scene wherever some frame shows it (revealed: its part under the occluder "
             "now; hidden: never shown, a fill, not in the ratio), the matte's IoU.", "",
             "| model | answer | scene | / Identity | revealed | hidden (fill) | matte IoU |",
             "|---|---|---|---|---|---|---|"]
    for name, s in r.scores.items():
        label = model_name if name == "method" else name
        iou = "—" if s["iou"] is None else f"{s['iou']:.3f}"
        lines.append(f"| {model_name} | {label} | {s['scene']:.4f} | **{r.ratio(name):.3f}** "
                     f"| {s['revealed']:.4f} | {s['hidden']:.4f} | {iou} |")
    worse = r.scores["method"].get("worse")
    per_kind = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r.kinds.items()))
    lines.append("")
    lines.append(f"{model_name}: scene / Identity per occluder: {per_kind}; worse than the "
                 f"blend on {worse:.0%} of blends.")
    return "\n".join(lines)


def as_dict(r: OccluderEval) -> dict:
    return {"blend": MOVING_OCCLUDER, "samples": r.samples, "split": r.split,
            "ratio": round(r.ratio(), 4),
            "scores": {k: {p: (None if v is None else round(v, 5)) for p, v in s.items()}
                       for k, s in r.scores.items()},
            "per_occluder": {k: round(v, 4) for k, v in r.kinds.items()}}
