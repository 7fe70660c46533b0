"""An occluder that moves differently from the scene behind it, taken away — no training
(``occluder``; not in the papers: Xue et al., SIGGRAPH 2015 remove fences, drops and
dirt on a window this way).

Per clip (a segment of ``centrifuge separate``):

1. **Both velocities** by the clip's summed phase correlation and each layer's motion by
   guided tracking, as ``motion-layers`` starts (without its α = ½ refinement, which
   assumes an overlay), keeping only the points that follow each velocity's guess.
2. **Both ways round** solved (:func:`~centrifuge.ops.matte.solve_occlusion`), each with
   its motions refined against what the solve found (:meth:`OccluderRemoval._solve`);
   the stronger velocity is taken for the occluder unless the other way remakes the clip
   better by more than a near tie (:data:`SWAP`).
3. The outputs, in a fixed order: **0 the scene** (the clip where it shows the scene, the
   frames where the occluder has moved away where it covers it), **1 the occluder** over
   black (α O), **2 its matte** α (grey: white where the occluder is).

Each clip leaves a report: how far apart the motions are, the share of the frame the
occluder covers, how well the layers remake the clip; where the motions do not differ
(an occluder that never moves against the scene) or no occluder is found, the clip
comes back as the scene, no occluder, and the report says why.

Shapes: a clip ``(3, T, H, W)`` in [0, 1] → ``(3, 3, T, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from centrifuge.errors import ConfigError
from centrifuge.methods.base import LayerSeparator
from centrifuge.methods.motion_layers import GAP, MIN_FRAMES, MIN_GAP
from centrifuge.models.base import config_from_mapping
from centrifuge.ops.layer_solve import motion_gap
from centrifuge.ops.matte import nudged_motion, solve_occlusion
from centrifuge.ops.tracking import aligned_motion, clip_velocities, guided_motion, to_grey

# Under this share of pixels × frames covered, there is no occluder to take away.
MIN_COVER = 0.005
LABELS = ("scene", "occluder", "matte")
# How much better (share of the remade clip's L1) the stronger motion must remake the clip
# as the scene to be taken for it (see separate_clip). Train, 24 blends of the four kinds
# (/ Identity, IoU): 0 → 0.547 / 0.516, 0.02–0.075 → 0.537 / 0.531, 0.1 → 0.615 / 0.507,
# 0.2–0.3 → 0.653 / 0.547: a foreground clip cut by supervoxels is the weaker peak but
# the worse scene; the lower L1 picks the right way in 22 of 24, 0.05 in 23 (both ways
# ≤ 2 % apart in the misses); 0.3 was chosen before that kind existed.
SWAP = 0.05
# First tracks keep only points within this (px) of their velocity's guess: where the
# scene holds most corners, a thin fence's would be outvoted (neutral on train)
NEAR_GUESS = 3.0


@dataclass
class OccluderConfig:
    """Settings of :class:`OccluderRemoval`.

    Attributes:
        rounds: matte ↔ scene refinements after the first matte.
        motion_rounds: motion ↔ matte refinements (each motion tracked again where the
            matte says its layer shows).
    """

    rounds: int = 2
    motion_rounds: int = 4

    def __post_init__(self):
        for name in ("rounds", "motion_rounds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name} must be a whole number ≥ 0, got {v!r}")

    @classmethod
    def from_dict(cls, d: dict) -> OccluderConfig:
        return config_from_mapping(cls, d)


class OccluderRemoval(LayerSeparator):
    """The scene, the occluder and its matte, by their motions (module doc)."""

    n_layers = 3
    fixed_order = True
    segment = 32
    min_frames = MIN_FRAMES
    min_side = 8
    bytes_per_voxel = 600
    labels = LABELS

    def __init__(self, config: OccluderConfig | None = None, *, name: str = "occluder",
                 summary: str = ""):
        self.config = config or OccluderConfig()
        self.name = name
        self.summary = summary or "an occluder moving differently from the scene (occluder)"
        self.reports: list[dict] = []

    def unseparated(self, video: torch.Tensor, report: dict) -> torch.Tensor:
        """The clip as the scene, no occluder, an empty matte; ``report`` (saying why)
        kept."""
        self.reports.append(report)
        return torch.stack([video, torch.zeros_like(video), torch.zeros_like(video)])

    def _solve(self, video, grey, motions, velocities, scene: int):
        """The occlusion solve with layer ``scene`` as the scene, both motions refined
        ``motion_rounds`` times against what the solve found: the scene's tracked on the
        scene found so far (the occluder taken out: corners on a fence would otherwise
        outvote the scene's) and aligned to it (ECC); the occluder's nudged to where its
        matte remakes each frame best (:func:`~centrifuge.ops.matte.nudged_motion`)."""
        s, o = motions[scene], motions[1 - scene]
        found = solve_occlusion(video, s, o, rounds=self.config.rounds)
        for _ in range(self.config.motion_rounds):
            clean = to_grey(found.scene)
            s = aligned_motion(clean, guided_motion(clean, velocities[scene])[0])
            o = nudged_motion(video, found, o)
            found = solve_occlusion(video, s, o, rounds=self.config.rounds)
        return found, torch.stack([s, o])

    def separate_clip(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        video = video.float()
        small = self.too_small(video)
        if small is not None:
            return self.unseparated(video, small)
        grey = to_grey(video)
        velocities, _ = clip_velocities(grey, 2, GAP)
        motions = torch.stack([guided_motion(grey, v, near=NEAR_GUESS)[0] for v in velocities])
        t, h, w = video.shape[1:]
        gap = motion_gap(motions, (h, w))
        report = {"frames": t, "motion_gap_px": round(gap, 2)}
        if gap < MIN_GAP:
            report.update(separated=False, why=(
                f"the two motions differ by {gap:.1f} px, under {MIN_GAP} px: an occluder that "
                "never moves against the scene cannot be told from it"))
            return self.unseparated(video, report)
        tries = [self._solve(video, grey, motions, velocities, i) for i in range(2)]
        errors = [float((o.remade - video).abs().mean()) for o, _ in tries]
        # a rigid, sharp occluder's phase-correlation peak is the stronger (the first
        # velocity), so the scene is taken as the second unless the other way round
        # remakes the clip better by SWAP — near a tie the peak order decides (train, 24
        # blends of the four kinds: the lower L1 is right in 22, the peak order in 15:
        # a foreground clip's peak is the weaker)
        best = 0 if errors[0] < (1 - SWAP) * errors[1] else 1
        found = tries[best][0]
        cover = float((found.matte > 0.5).float().mean())
        report.update(scene_motion=best, covered=round(cover, 3),
                      remade_l1=round(errors[best], 4), other_way_l1=round(errors[1 - best], 4),
                      scene_seen=round(float(found.seen), 3))
        if cover < MIN_COVER:
            report.update(separated=False, why=(
                f"the occluder found covers {cover:.1%} of the frames: there is no occluder "
                "moving differently from the scene here"))
            return self.unseparated(video, report)
        report.update(separated=True, why=None)
        self.reports.append(report)
        matte = found.matte.expand(3, -1, -1, -1)
        return torch.stack([found.scene, found.occluder, matte]).clamp(0, 1)
