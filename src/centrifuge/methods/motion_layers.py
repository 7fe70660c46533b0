"""Layers that move differently, separated by following each one's motion — no training
(``motion-layers``, ``motion-reflection``; not in the papers: Szeliski, Avidan & Anandan,
CVPR 2000; Xue et al., SIGGRAPH 2015; ``../shared/notes/motion-layers.md``).

Per clip (a segment of ``centrifuge separate``):

1. **Each layer's motion, from the blend.** Phase correlation of consecutive frames peaks
   at each layer's velocity; the two peaks, linked over time, are each layer's
   frame-to-frame translation (:func:`~centrifuge.ops.tracking.layer_tracks`). Chained to
   the middle frame, they guide Lucas–Kanade from its corners into every frame, and a
   similarity (zoom, turn, shift) is fitted to the points that follow that guess with
   RANSAC — each frame against the reference, so nothing drifts along the chain
   (:func:`~centrifuge.ops.tracking.guided_motion`). A similarity, not a homography: in a
   blend half the points belong to the other layer, and four degrees of freedom fitted
   to them stay sane where eight wander (on the train split the homography fits were
   the worse, 0.911× against 0.897×).
2. **Candidates, Identity among them.** A layer fixed to the camera shows no peak to
   follow, and a weak layer's peak can be noise; so the estimated pair competes with the
   pairs in which one layer is held still, and the one whose short solve explains the
   most of the clip's edges wins.
3. **A joint solve** of both layers on a reference canvas (:mod:`centrifuge.ops.layer_solve`:
   robust Charbonnier data term, sparse-gradient prior, values in [0, 1]; α = ½, or the
   additive model in linear light for a faint reflection in glass).
4. **Refined against the layers**: each layer's motion is tracked again on the clip with
   the other layer's estimate taken away, and the layers solved again.

The outputs are each layer as the frames show it, with what the layers do not explain
(a person walking, compression) given to both, so they still make the clip. Each clip
leaves a report in :attr:`MotionLayers.reports`: how far apart the motions are (px) and
the share of the clip's edges the layers explain; where the motions do not differ
(:data:`MIN_GAP`) the layers are no separation, and the report says so.

Shapes: a clip ``(3, T, H, W)`` in [0, 1] → ``(2, 3, T, H, W)``, dominant motion first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from centrifuge.errors import ConfigError
from centrifuge.methods.base import LayerSeparator
from centrifuge.models.base import config_from_mapping
from centrifuge.ops.layer_solve import MODELS, explained, frames_of, motion_gap, see, solve
from centrifuge.ops.tracking import guided_motion, layer_tracks, to_grey

# Below this many pixels apart (RMS at the frame corners, over the whole clip) the two
# motions are one: nothing moves differently, nothing can be separated by motion.
MIN_GAP = 1.5
MIN_FRAMES = 3


@dataclass
class MotionConfig:
    """Settings of :class:`MotionLayers`.

    Attributes:
        model: ``average`` (overlays, α = ½) or ``add`` (a faint reflection: light adds).
        rounds: motion ↔ layer refinements after the first solve.
        iterations: L-BFGS iterations of the final solve (the candidates' and the
            refinements' take a third).
        smooth: weight of the sparse-gradient prior.
    """

    model: str = "average"
    rounds: int = 1
    iterations: int = 60
    smooth: float = 0.05

    def __post_init__(self):
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        for name in ("rounds", "iterations"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "rounds"
                                                                    else 1):
                raise ConfigError(f"{name} must be a whole number "
                                  f"{'≥ 0' if name == 'rounds' else '≥ 1'}, got {v!r}")
        if isinstance(self.smooth, bool) or not isinstance(self.smooth, (int, float)) \
                or self.smooth < 0:
            raise ConfigError(f"smooth must be a number ≥ 0, got {self.smooth!r}")

    @classmethod
    def from_dict(cls, d: dict) -> MotionConfig:
        return config_from_mapping(cls, d)


def _still(frames: int) -> torch.Tensor:
    return torch.eye(3, dtype=torch.float64).expand(frames, 3, 3).clone()


class MotionLayers(LayerSeparator):
    """Two layers with their own motions, from the blend alone (module doc)."""

    n_layers = 2
    segment = 32
    # the clip, its grey copies, both canvases, the warps' grids and L-BFGS's history
    bytes_per_voxel = 600

    def __init__(self, config: MotionConfig | None = None, *, name: str = "motion-layers",
                 summary: str = ""):
        self.config = config or MotionConfig()
        self.name = name
        self.summary = summary or "two layers with their own motions (motion_layers)"
        self.reports: list[dict] = []

    def estimate(self, video: torch.Tensor) -> torch.Tensor:
        """Both layers' motions ``(2, T, 3, 3)`` (frame t → the middle frame)."""
        grey = to_grey(video)
        tracks = layer_tracks(grey, 2)
        found = torch.stack([guided_motion(grey, tracks[i])[0] for i in range(2)])
        still = _still(video.shape[1])
        candidates = [found, torch.stack([found[0], still]), torch.stack([still, found[1]])]
        quick = max(1, self.config.iterations // 3)
        scores = []
        for motions in candidates:
            layers, canvas = solve(video, motions, model=self.config.model,
                                   smooth=self.config.smooth, iterations=quick)
            scores.append(explained(video, frames_of(layers, canvas, video,
                                                     model=self.config.model)[1]))
        motions = candidates[max(range(len(candidates)), key=scores.__getitem__)]
        for _ in range(self.config.rounds):
            motions = self._refine(video, motions, tracks, quick)
        return motions

    def _refine(self, video, motions, tracks, iterations: int) -> torch.Tensor:
        layers, canvas = solve(video, motions, model=self.config.model,
                               smooth=self.config.smooth, iterations=iterations)
        seen = see(layers, canvas)
        refined = []
        for i in range(2):
            if torch.equal(motions[i], _still(video.shape[1])):
                refined.append(motions[i])  # held still: stays the candidate it won as
                continue
            alone = video - 0.5 * seen[1 - i]  # the other layer taken away
            refined.append(guided_motion(to_grey(alone, gain=2.0), tracks[i])[0])
        return torch.stack(refined)

    def separate_clip(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        video = video.float()
        t, h, w = video.shape[1:]
        if t < MIN_FRAMES or min(h, w) < 8:
            self.reports.append({"frames": t, "separated": False,
                                 "why": f"a clip of {t} frames of {w}×{h} is too small to "
                                        "see motion in"})
            return video[None].expand(2, -1, -1, -1, -1).clone()
        motions = self.estimate(video)
        gap = motion_gap(motions, (h, w))
        layers, canvas = solve(video, motions, model=self.config.model,
                               smooth=self.config.smooth, iterations=self.config.iterations)
        out, rest = frames_of(layers, canvas, video, model=self.config.model)
        share = explained(video, rest)
        separated = gap >= MIN_GAP
        self.reports.append({
            "frames": t, "motion_gap_px": round(gap, 2), "explained": round(share, 3),
            "separated": separated,
            "why": None if separated else
            f"the layers' motions differ by {gap:.1f} px, under {MIN_GAP} px: nothing moves "
            "differently here, so motion cannot tell the layers apart"})
        if not separated:
            return video[None].expand(2, -1, -1, -1, -1).clone()
        return out.clamp(0, 1)

    def take_reports(self) -> list[dict]:
        reports, self.reports = self.reports, []
        return reports

    def describe(self) -> dict:
        return {**super().describe(), "settings": vars(self.config)}
