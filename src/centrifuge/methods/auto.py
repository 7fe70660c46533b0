"""The product default: per clip, the training-free method whose picture of the clip fits
it — ``auto`` (what ``centrifuge separate`` runs with no ``-n``; not in the papers).

Per clip (a segment of ``centrifuge separate``):

1. **The motions.** Both layers' motions, as ``motion-layers`` finds them
   (:meth:`~centrifuge.methods.motion_layers.MotionLayers.estimate`).
2. **The blend.** Both blend models are solved on those motions — an overlay at about
   equal strength (``average``, α = ½) and a faint reflection whose light adds (``add``)
   — and the one that remakes the clip better (:func:`~centrifuge.ops.layer_solve.fit`,
   the share of its edges, in display values for both) is kept; ``add`` wins ties within
   :attr:`AutoConfig.margin` — unless a layer was found within 1 px of still, which a faint
   reflection's motion rarely is: then the reflection must fit better by 0.02
   (:meth:`AutoConfig.prefers_reflection`). The two fits are close on most real blends (within 0.02
   on about half the train blends of either kind), so this pick is the method's weak
   point: a wrong ``add`` on an overlay, or a wrong ``average`` on a reflection, is
   worse than the blend. The margin was chosen on the corpus train split (12 blends
   per kind, ``benchmarks/auto.py --split train --margin M``; camera-fixed /
   camera-fixed-reflection / two-motion / two-motion-reflection × Identity): 0 →
   0.73 / 0.81 / 0.82 / 0.95, 0.01 → 0.76 / 0.77 / 0.83 / 0.80, 0.02 → 0.78 / 0.74 /
   0.91 / 0.77.
3. **Camera-fixed or two-motion.** With a reflection, one layer held still (a camera fixed
   to the glass) is tried too (:meth:`AutoLayers._camera_fixed`); where it fits better,
   ``static-reflection``
   (the temporal median of gradients, bounded by the clip's darkest frame) gives the
   layers: on camera-fixed reflections it scores better than the joint solve (train, 10
   blends, 32×64²: 0.48 against 0.59× Identity). Otherwise the joint solve's layers are
   the answer — an overlay with one still layer included: on camera-fixed overlays the
   joint solve beat ``static-layer`` (0.63 against 0.78×).
4. **Or none.** Where the motions do not differ, or a second motion explains nothing one
   does not, the clip cannot be separated by motion: the input comes back, and the report
   says why (``motion-layers``' rule; for a reflection, which holds few edges, the second
   layer need add only :attr:`AutoConfig.reflection_gain` of them). The same where the
   two layers of the joint solve remake under :attr:`AutoConfig.min_fit` of the clip's
   edges: what moves there is not two rigid layers (a clip whose own content moves, one
   pasted over another), and the solve's layers are smears worse than the blend; and,
   with a reflection, where one layer held still remakes the clip at least as well as
   both motions found (those motions are not the clip's: 9 train blends, 5 of them worse
   than the blend). Both rules together, 24 train blends per kind, 32×64²
   (``benchmarks/auto.py --split train --samples 24``, × Identity, before → after):
   occlusion 1.267 → 1.068, camera-fixed-reflection 0.756 → 0.691, two-motion-reflection
   0.937 → 0.826, camera-fixed 0.775 → 0.748, two-motion 0.843 → 0.853, transparent
   0.974 → 0.981 (:meth:`AutoConfig.gives_up`).

Learned networks are not candidates: on every yardstick they score 0.93–1.06× Identity
(``weights/MODEL_CARD.md``), worse than these methods wherever those separate.

Each clip's report (:meth:`take_reports`) records what was chosen and why: ``chose``
(``two-motion``, ``camera-fixed`` or ``none``), ``blend`` (``average``/``add``), both
models' fit, and ``motion-layers``' figures. Shapes: a clip ``(3, T, H, W)`` in [0, 1] →
``(2, 3, T, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from centrifuge.errors import ConfigError
from centrifuge.methods.base import LayerSeparator
from centrifuge.methods.motion_layers import (
    MIN_FRAMES,
    MIN_GAIN,
    MIN_GAP,
    MotionConfig,
    MotionLayers,
    still_motion,
    unseparated,
)
from centrifuge.methods.static import PRESETS, StaticLayer
from centrifuge.models.base import config_from_mapping
from centrifuge.ops.homography import corner_error


@dataclass
class AutoConfig:
    """Settings of :class:`AutoLayers`.

    Attributes:
        margin: ``add`` is chosen unless the overlay model fits the clip by more than
            this (a share of the clip's edges).
        reflection_gain: with a reflection, the least share of the clip's edges the
            second layer must add to what one motion explains for the clip to count as
            separable (``motion-layers`` asks 5 %: a faint reflection holds few edges —
            on the train split 6 of 10 two-motion reflections added 1.8–4.2 %, and
            separated anyway they scored 0.39–1.00× Identity, mean 0.67).
        still_px / still_lead: where a layer's motion is found within ``still_px`` (px,
            RMS at the corners, every frame) of still, the reflection must fit better by
            ``still_lead`` to be chosen: a faint reflection's motion is rarely found that
            precisely (train split: 2 of 24 reflection blends within 2.5 px, none within
            1), a strong layer's is (5 of 12 transparent blends within 1 px, where the
            reflection was chosen on fits 0.001–0.016 apart and scored 0.91–1.37×).
        min_fit: the least share of the clip's edges the joint solve's two layers must
            remake (:func:`~centrifuge.ops.layer_solve.fit`, of the blend model chosen) for
            its layers to be handed back. Chosen on the train split (24 blends per kind,
            32×64², each blend's report from ``benchmarks/auto.py --log``; 0.3 and 0.35
            gained less): of the train joint solves that fitted under 0.4, 32 of 44 were
            worse than the blend (the best 0.64×).
        flow: the joint solve's answer solved once more on each layer's residual flow
            (:meth:`~centrifuge.methods.motion_layers.MotionLayers.flowed`); every choice
            is made on the rigid solve before it.
    """

    margin: float = 0.01
    reflection_gain: float = 0.01
    still_px: float = 1.0
    still_lead: float = 0.02
    min_fit: float = 0.4
    flow: bool = True

    def __post_init__(self):
        for name in ("margin", "reflection_gain", "still_px", "still_lead", "min_fit"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"{name} must be a number ≥ 0, got {v!r}")
        if not isinstance(self.flow, bool):
            raise ConfigError(f"flow must be true or false, got {self.flow!r}")

    def prefers_reflection(self, overlay_fit: float, reflection_fit: float,
                           still_px: float) -> bool:
        """Whether the reflection's picture wins over the overlay's, given how well each
        remakes the clip and how near to still (px) the stiller layer was found: a faint
        reflection's own motion is the one the blend hides best, so a layer found still
        within :attr:`still_px` is one the blend shows strongly, and the reflection must
        then fit better by :attr:`still_lead`; otherwise it wins ties within
        :attr:`margin`."""
        if still_px < self.still_px:
            return reflection_fit > overlay_fit + self.still_lead
        return reflection_fit > overlay_fit - self.margin

    def gives_up(self, fit: float, held: dict | None, fixed: bool) -> str | None:
        """Why a clip whose motions were found apart is still no separation, or ``None``:
        one layer held still remakes it at least as well as both motions found (``held``,
        the fits :meth:`AutoLayers._camera_fixed` records; the motions are then not the
        clip's), or — for the joint solve (not ``fixed``) — its two layers remake under
        :attr:`min_fit` of the clip's edges (``fit``)."""
        if held and held["still_alone"] >= held["neither"]:
            return (f"one layer held still remakes the clip as well as the two motions "
                    f"found ({held['still_alone']:.0%} of its edges against "
                    f"{held['neither']:.0%}): nothing here moves as a layer of its own, so "
                    "motion cannot tell the layers apart")
        if not fixed and fit < self.min_fit:
            return (f"the two layers remake only {max(fit, 0):.0%} of the clip's edges "
                    f"(under {self.min_fit:.0%}): what moves here is not two layers with a "
                    "motion each, so motion cannot tell the layers apart")
        return None

    @classmethod
    def from_dict(cls, d: dict) -> AutoConfig:
        return config_from_mapping(cls, d)


def still_distance(motion: torch.Tensor, frame: tuple[int, int]) -> float:
    """How far (px, RMS at the corners, the largest over frames) a layer's motion
    ``(T, 3, 3)`` carries the frame from where it stands."""
    still = still_motion(len(motion)).to(motion.dtype)
    return float(corner_error(motion, still, frame).max())


class AutoLayers(LayerSeparator):
    """Camera-fixed, two-motion or none, overlay or reflection, per clip (module doc)."""

    n_layers = 2
    segment = 32
    min_frames = MIN_FRAMES
    min_side = 8
    # two joint solves at once (the overlay's is kept while the reflection's runs)
    bytes_per_voxel = 900

    def __init__(self, config: AutoConfig | None = None, *, name: str = "auto",
                 summary: str = ""):
        self.config = config or AutoConfig()
        self.name = name
        self.summary = summary or ("per clip, whichever training-free picture fits: two "
                                   "layers moving differently or one fixed to the camera, "
                                   "an overlay or a faint reflection; or none")
        self.overlay = MotionLayers(MotionConfig(model="average", flow=self.config.flow))
        self.glass = MotionLayers(MotionConfig(model="add", flow=self.config.flow))
        self.fixed_glass = StaticLayer(PRESETS["static-reflection"][0])
        self.reports: list[dict] = []

    def separate_clip(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        video = video.float()
        small = self.overlay.too_small(video)
        if small is not None:
            self.reports.append({**small, "chose": "none"})
            return unseparated(video)
        motions = self.overlay.estimate(video)
        overlay = self.overlay.solved(video, motions)
        glass = self.glass.solved(video, motions)
        frame = tuple(video.shape[-2:])
        still = min(still_distance(m, frame) for m in motions)
        reflection = self.config.prefers_reflection(overlay.fit, glass.fit, still)
        method, solved = (self.glass, glass) if reflection else (self.overlay, overlay)
        report = method.verdict(video, motions, solved,
                                min_gain=self.config.reflection_gain if reflection
                                else MIN_GAIN)
        report.update(blend=method.config.model,
                      fit={"average": round(overlay.fit, 3), "add": round(glass.fit, 3)},
                      still_layer_px=round(still, 2))
        # a reflection fixed to the camera: its motion is the one the blend hides best,
        # so it is also tried held still; the second layer's gain over one motion is no
        # test of it (what it adds is the static-reflection's, not the solve's)
        fixed = reflection and report["motion_gap_px"] >= MIN_GAP and self._camera_fixed(
            video, motions, report)
        why = self.config.gives_up(solved.fit, report.get("fit_held_still"), fixed)
        if why and (fixed or report["separated"]):
            fixed = False
            report.update(separated=False, why=why)
        if fixed:
            report.update(chose="camera-fixed", separated=True, why=None, reason=(
                f"a faint reflection (the additive model fits {glass.fit:.0%} of the edges, "
                f"the overlay {overlay.fit:.0%}) fixed to the camera: static-reflection"))
            out = self.fixed_glass.separate_clip(video)
        elif not report["separated"]:
            report["chose"] = "none"
            out = unseparated(video)
        else:
            report["chose"] = "two-motion"
            kind = "a faint reflection" if reflection else "an overlay"
            report["reason"] = (f"{kind} (fits: overlay {overlay.fit:.0%}, reflection "
                                f"{glass.fit:.0%} of the edges), the layers "
                                f"{report['motion_gap_px']:.1f} px apart: the joint solve")
            out = method.flowed(video, solved).clamp(0, 1)
        self.reports.append(report)
        return out

    def _camera_fixed(self, video: torch.Tensor, motions: torch.Tensor,
                      report: dict) -> bool:
        """Whether the clip is a reflection fixed to the camera over a moving scene: one
        layer held still fits the clip better than both motions as estimated (a faint
        still layer's phase-correlation peak drowns in the other's, so its estimate is
        often off), the other layer moves, and it adds edges to what the still one alone
        explains (a still clip has nothing to add). The fits go in the report."""
        quick = max(1, self.glass.config.iterations // 3)
        still = still_motion(video.shape[1]).to(motions.dtype)
        frame = tuple(video.shape[-2:])
        # both motions again at the same iterations as the held-still pairs, so that the
        # fits compare solves of one length (the full solve's fit would flatter it)
        both = self.glass.solved(video, motions, quick).fit
        fits = []
        for k in range(2):
            held = motions.clone()
            held[k] = still
            fits.append(self.glass.solved(video, held, quick).fit)
        k = max(range(2), key=fits.__getitem__)
        still_alone = self.glass.solved(video, still[None], quick).fit
        report["fit_held_still"] = {"neither": round(both, 3), "first": round(fits[0], 3),
                                    "second": round(fits[1], 3),
                                    "still_alone": round(still_alone, 3)}
        moves = still_distance(motions[1 - k], frame) >= MIN_GAP
        # held still where it already was changes nothing: a tie is still a still layer
        return (moves and fits[k] >= both - 1e-3
                and fits[k] - still_alone >= self.config.reflection_gain)
