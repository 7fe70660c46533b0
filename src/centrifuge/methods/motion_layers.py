"""Layers that move differently, separated by following each one's motion — no training
(``motion-layers``, ``motion-reflection``; not in the papers: Szeliski, Avidan & Anandan,
CVPR 2000; Xue et al., SIGGRAPH 2015; ``../shared/notes/motion-layers.md``).

Per clip (a segment of ``centrifuge separate``):

1. **Each layer's velocity, from the blend.** The phase-correlation surfaces of all frame
   pairs 4 frames apart, summed over the clip, peak at each layer's velocity
   (:func:`~centrifuge.ops.tracking.clip_velocities`; summing over the clip is what lifts
   the weaker layer's peak out of the noise — per frame pair it was the noise, 1.01×
   Identity on 8 train blends against 0.93×).
2. **Each layer's motion.** The velocity chained to the middle frame guides Lucas–Kanade
   from its corners into every frame, and a similarity (zoom, turn, shift) is fitted to
   the points that follow that guess with RANSAC — each frame against the reference, so
   nothing drifts along a chain (:func:`~centrifuge.ops.tracking.guided_motion`). A
   similarity, not a homography: in a blend half the points belong to the other layer,
   and four degrees of freedom fitted to them stay sane where eight wander (train split:
   homographies 0.911×, similarities 0.897×).
3. **A joint solve** of both layers on a reference canvas (:mod:`centrifuge.ops.layer_solve`:
   robust Charbonnier data term, sparse-gradient prior, values in [0, 1]; α = ½, or the
   additive model in linear light for a faint reflection in glass).
4. **Refined against the layers** (``rounds``, 2): each layer's motion is tracked again on
   the clip with the other layer's estimate taken away, and the layers solved again —
   the step that matters most (12 train blends: 0.930× Identity without it, 0.816× with
   one round, 0.795× with two). Optionally (``candidates``) the pairs with one layer held
   still (Identity) compete first; on train that cost more than it gained.
5. **Residual flow** (``flow``): the answer solved again, :data:`FLOW_ROUNDS` times, on
   sampling grids moved by each layer's dense residual flow
   (:mod:`~centrifuge.ops.residual_flow`: what the homographies do not follow; train
   two-motion 0.873 → 0.816× Identity, ``benchmarks/residual_flow.py``); the report
   and every choice come from the rigid solve before it.

The outputs are each layer as the frames show it, with what the layers do not explain
(a person walking, compression) shared out so that they still make the clip — an
overlay's to the layer with the stronger edges there
(:func:`~centrifuge.ops.layer_solve.edge_shares`). Each clip
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
from centrifuge.ops.layer_solve import (
    MODELS,
    Canvas,
    explained,
    fit,
    frames_of,
    motion_gap,
    see,
    solve,
)
from centrifuge.ops.residual_flow import layer_flows, moved_canvas
from centrifuge.ops.tracking import clip_velocities, guided_motion, to_grey

# Below this many pixels apart (RMS at the frame corners, over the whole clip) the two
# motions are one: nothing moves differently, nothing can be separated by motion.
MIN_GAP = 1.5
# ... and below this share of the clip's edges gained over one motion alone, the second
# layer explains nothing a single one does not.
MIN_GAIN = 0.05
MIN_FRAMES = 3
# Residual-flow rounds after the rigid solve (:meth:`MotionLayers.flowed`)
FLOW_ROUNDS = 3
# Frames apart of the pairs whose phase correlations are summed for each layer's velocity
GAP = 4


@dataclass
class MotionConfig:
    """Settings of :class:`MotionLayers`.

    Attributes:
        model: ``average`` (overlays, α = ½) or ``add`` (a faint reflection: light adds).
        rounds: motion ↔ layer refinements after the first solve.
        iterations: L-BFGS iterations of the final solve (the candidates' and the
            refinements' take a third).
        smooth: weight of the sparse-gradient prior.
        candidates: let the pairs with one layer held still compete (by the share of
            edges a short solve explains; off: on the train split it cost 0.830 against
            0.816 at one round).
        flow: solve the answer again on grids moved by each layer's residual flow
            (:meth:`MotionLayers.flowed`, :mod:`~centrifuge.ops.residual_flow`).
    """

    model: str = "average"
    rounds: int = 2
    iterations: int = 60
    smooth: float = 0.05
    candidates: bool = False
    flow: bool = True

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
        for name in ("candidates", "flow"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got "
                                  f"{getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, d: dict) -> MotionConfig:
        return config_from_mapping(cls, d)


@dataclass
class Solved:
    """One joint solve: the layers as the frames show them (:func:`frames_of`), the share
    of the clip's edges they explain (:func:`explained`), how well they remake the clip
    in display values (:func:`fit`, comparable between the blend models), the canvas
    layers with their canvas, and the layers as the frames show them without the rest
    (:func:`see`)."""

    out: torch.Tensor
    share: float
    fit: float
    layers: torch.Tensor
    canvas: object
    seen: torch.Tensor


def unseparated(video: torch.Tensor) -> torch.Tensor:
    """What a clip that cannot be separated gives back: the input, as both layers."""
    return video[None].expand(2, -1, -1, -1, -1).clone()


def still_motion(frames: int) -> torch.Tensor:
    """The motion ``(frames, 3, 3)`` of a layer fixed to the camera: no motion at all."""
    return torch.eye(3, dtype=torch.float64).expand(frames, 3, 3).clone()


class MotionLayers(LayerSeparator):
    """Two layers with their own motions, from the blend alone (module doc)."""

    n_layers = 2
    segment = 32
    min_frames = MIN_FRAMES
    min_side = 8
    # the clip, its grey copies, both canvases, the warps' grids and L-BFGS's history
    bytes_per_voxel = 600

    def __init__(self, config: MotionConfig | None = None, *, name: str = "motion-layers",
                 summary: str = ""):
        self.config = config or MotionConfig()
        self.name = name
        self.summary = summary or "two layers with their own motions (motion_layers)"
        self.reports: list[dict] = []

    def solved(self, video: torch.Tensor, motions: torch.Tensor | None,
               iterations: int | None = None, canvas: Canvas | None = None,
               start: torch.Tensor | None = None) -> Solved:
        """Both layers solved for ``motions`` (:class:`Solved`); ``iterations`` of L-BFGS
        (the config's by default); on ``canvas``'s grids and from ``start`` where given."""
        layers, canvas, seen = self._layers(video, motions, iterations, canvas, start)
        out, rest = frames_of(layers, canvas, video, model=self.config.model, seen=seen)
        return Solved(out, explained(video, rest), fit(video, seen, model=self.config.model),
                      layers, canvas, seen)

    def _layers(self, video, motions, iterations, canvas, start):
        """The canvas layers, their canvas and the layers as the frames show them."""
        layers, canvas = solve(video, motions, model=self.config.model,
                               smooth=self.config.smooth,
                               iterations=iterations or self.config.iterations, canvas=canvas,
                               start=start)
        # the warps into every frame once: the outputs, the fit and the refinement use them
        return layers, canvas, see(layers, canvas)

    def flowed(self, video: torch.Tensor, solved: Solved) -> torch.Tensor:
        """The answer ``(2, 3, T, H, W)``: ``solved``'s layers solved again,
        :data:`FLOW_ROUNDS` times, on grids moved by each layer's residual flow
        (:mod:`~centrifuge.ops.residual_flow`: what the homographies do not follow), as
        the frames show them (:func:`frames_of`); ``solved``'s own where
        :attr:`MotionConfig.flow` is off. Every choice (blend model, giving up) is made on
        the rigid solve; this only sharpens the answer, so the rounds skip its figures."""
        if not self.config.flow:
            return solved.out
        # each round from the last one's layers, a ninth of the iterations: on 24 train
        # blends per kind (32×64², benchmarks/residual_flow.py) three such rounds beat one
        # of a third of the iterations, which was as good as a full solve from the
        # stabilised clip in 40 % of its time
        layers, canvas, seen = solved.layers, solved.canvas, solved.seen
        for _ in range(FLOW_ROUNDS):
            flows = layer_flows(video, seen, self.config.model)
            layers, canvas, seen = self._layers(video, None,
                                                max(1, self.config.iterations // 9),
                                                moved_canvas(canvas, flows), layers)
        return frames_of(layers, canvas, video, model=self.config.model, seen=seen)[0]

    def estimate(self, video: torch.Tensor) -> torch.Tensor:
        """Both layers' motions ``(2, T, 3, 3)`` (frame t → the middle frame)."""
        grey = to_grey(video)
        velocities, _ = clip_velocities(grey, 2, GAP)
        motions = torch.stack([guided_motion(grey, v)[0] for v in velocities])
        quick = max(1, self.config.iterations // 3)
        if self.config.candidates:
            still = still_motion(video.shape[1])
            candidates = [motions, torch.stack([motions[0], still]),
                          torch.stack([still, motions[1]])]
            shares = [self.solved(video, option, quick).share for option in candidates]
            motions = candidates[max(range(len(candidates)), key=shares.__getitem__)]
        for _ in range(self.config.rounds):
            motions = self._refine(video, motions, velocities, quick)
        return motions

    def _refine(self, video, motions, velocities, iterations: int) -> torch.Tensor:
        seen = self.solved(video, motions, iterations).seen
        refined = []
        for i in range(2):
            if torch.equal(motions[i], still_motion(video.shape[1])):
                refined.append(motions[i])  # held still: stays the candidate it won as
                continue
            alone = video - 0.5 * seen[1 - i]  # the other layer taken away
            refined.append(guided_motion(to_grey(alone, gain=2.0), velocities[i])[0])
        return torch.stack(refined)

    def verdict(self, video: torch.Tensor, motions: torch.Tensor, solved: Solved,
                min_gain: float = MIN_GAIN) -> dict:
        """The clip's report: how far apart the motions are, the share of its edges the
        layers explain (and one motion alone), and whether that is a separation (why not:
        motions under :data:`MIN_GAP` apart, or a second layer adding under ``min_gain``)."""
        t, h, w = video.shape[1:]
        gap = motion_gap(motions, (h, w))
        # what one layer following the dominant motion alone explains: a second layer
        # that adds little is no layer (a still clip, or everything moving together)
        alone = self.solved(video, motions[:1], max(1, self.config.iterations // 3)).share
        gain = solved.share - alone
        why = None
        if gap < MIN_GAP:
            why = (f"the layers' motions differ by {gap:.1f} px, under {MIN_GAP} px: nothing "
                   "moves differently here, so motion cannot tell the layers apart")
        elif gain < min_gain:
            why = (f"a second motion adds {max(gain, 0):.0%} of the clip's edges to what one "
                   f"explains (under {min_gain:.0%}): nothing moves differently enough here, "
                   "so motion cannot tell the layers apart")
        return {"frames": t, "motion_gap_px": round(gap, 2), "explained": round(solved.share, 3),
                "explained_by_one_motion": round(alone, 3), "separated": why is None,
                "why": why}

    def separate_clip(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        video = video.float()
        small = self.too_small(video)
        if small is not None:
            self.reports.append(small)
            return unseparated(video)
        motions = self.estimate(video)
        solved = self.solved(video, motions)
        report = self.verdict(video, motions, solved)
        self.reports.append(report)
        if not report["separated"]:
            return unseparated(video)
        return self.flowed(video, solved).clamp(0, 1)

