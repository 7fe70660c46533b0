"""A layer that stays still in the frame, separated without training (not in the papers):
the ``static-layer`` and ``static-reflection`` methods.

The trained networks of this project do not separate unseen video (docs/campaign.md):
a CPU shows them a few thousand blends where the paper used 2.4 M, and they never learn
to use motion (docs/motion.md). One case needs no learning at all: **one layer is fixed
to the camera** — a semi-transparent overlay, a bright reflection in glass the camera is
fixed to, dirt on a window — while the other moves through the frame. Weiss (ICCV 2001,
"Deriving intrinsic images from image sequences") shows how: edges of the moving layer
pass over a pixel only now and then, so the **temporal median
of the image gradients** of ``V = ½(S + D_t)`` is ``½∇S``, the still layer's gradients
alone. Integrating them (a least-squares Poisson solve, by FFT over the mirrored frame so
that the borders add no edges) gives S up to its mean colour, which is split evenly
(nothing in a blend tells which layer holds it); the moving layer is ``2V − S``.

``strength`` λ moves each output that fraction of the way from the input to that
estimate, ``Oⁱ = V + λ(Lⁱ − V)``; the two outputs still average to the input. λ = 1 is
the estimate itself — best where the assumption holds — and λ = ½ the shipped default,
chosen on the corpus **train** clips (``benchmarks/static_layer.py``): where nothing moves
(the real val, whose clips are nearly still) the full estimate hands the whole image to
the still layer and scores worse than the input, the halfway one does not.

``blend="average"`` assumes the two layers are of about equal strength (α = ½): a faint
reflection, as most real windscreens show, would be doubled into the still layer and
taken twice from the moving one (worse than the input on such blends). ``blend="add"``
is for those: glass adds the reflection's light to the scene's, so the same median runs
on the video in linear light, where the still part *is* the reflection, and the scene is
what remains (shipped as ``static-reflection``; docs/static-layer.md). Because glass only
adds light, no frame at a pixel is darker than the reflection there: the clip's darkest
value (its min-composite) bounds the estimate from above, which corrects the median
where the scene's edges linger (on the train split's faint reflections, 0.627× Identity
at the best strength without the bound, ½, and 0.492× with it at strength 1, which the
bound made the better choice; ``benchmarks/static_layer.py --mode add``).

Output order is fixed: layer 0 the still layer, layer 1 the moving one. It needs frames
in which the other layer moves (``centrifuge separate`` gives it segments of 32). Shape:
``(B, 3, T, H, W)`` in [0, 1] → ``(B, 2, 3, T, H, W)``, any T, H, W; computed in fp32
whatever the caller's autocast.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from centrifuge.errors import ConfigError
from centrifuge.methods.base import LayerSeparator
from centrifuge.models.base import config_from_mapping
from centrifuge.ops.light import to_display, to_linear
from centrifuge.ops.poisson import gradients, integrate, mirror

BLENDS = ("average", "add")


@dataclass
class StaticConfig:
    """Settings of :class:`StaticLayer` (the shipped ones: :data:`PRESETS`).

    Attributes:
        strength: λ in [0, 1], how far each output goes from the input to the estimate.
        blend: ``average``, ``V = ½(S + D)`` (the project's α = ½ blends), or ``add``,
            a faint still reflection added to the scene in linear light,
            ``V^γ = D^γ + R^γ`` (γ = 2.2): the reflection is found there and its darkest
            ``floor`` quantile set to black (reflections add light; where the reflected
            scene is dark they add none).
        floor: with ``add``, the quantile of the reflection that is black.
        bound: with ``add``, hold the reflection at or under the darkest value each pixel
            takes in the clip: glass adds light, so no frame is darker than the reflection
            (``False``: the ninth session's method, kept to reproduce its numbers).
    """

    strength: float = 0.5
    blend: str = "average"
    floor: float = 0.05
    bound: bool = True

    def __post_init__(self):
        if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)) \
                or not 0 <= self.strength <= 1:
            raise ConfigError(f"strength must be a number in [0, 1], got {self.strength!r}")
        if self.blend not in BLENDS:
            raise ConfigError(f"blend must be one of {', '.join(BLENDS)}, got {self.blend!r}")
        if isinstance(self.floor, bool) or not isinstance(self.floor, (int, float)) \
                or not 0 <= self.floor < 1:
            raise ConfigError(f"floor must be a quantile in [0, 1), got {self.floor!r}")
        if not isinstance(self.bound, bool):
            raise ConfigError(f"bound must be true or false, got {self.bound!r}")

    @classmethod
    def from_dict(cls, d: dict) -> StaticConfig:
        return config_from_mapping(cls, d)


def still_part(video: torch.Tensor) -> torch.Tensor:
    """The zero-mean image ``(B, 3, 1, H, W)`` whose gradients are the temporal median of
    ``video``'s ``(B, 3, T, H, W)``: what does not move, up to its mean."""
    h, w = video.shape[-2:]
    gx, gy = gradients(mirror(video))
    return integrate(gx.median(dim=2).values, gy.median(dim=2).values)[..., :h, :w].unsqueeze(2)


def still_layer(video: torch.Tensor) -> torch.Tensor:
    """The still layer S ``(B, 3, 1, H, W)`` of ``video`` ``(B, 3, T, H, W)`` = ½(S + D_t),
    its mean colour that of the video."""
    return 2 * still_part(video) + video.mean(dim=(2, 3, 4), keepdim=True)


def still_reflection(linear: torch.Tensor, floor: float, bound: bool = True) -> torch.Tensor:
    """The still reflection ``(B, 3, 1, H, W)`` added to ``linear`` ``(B, 3, T, H, W)``
    (linear light), its ``floor`` quantile at zero, never negative, and with ``bound``
    nowhere brighter than the clip's darkest frame there (the min-composite of Szeliski,
    Avidan & Anandan, CVPR 2000: the scene behind adds light, never takes it away)."""
    r = still_part(linear)
    low = torch.quantile(r.flatten(2), floor, dim=2)[..., None, None, None]
    r = (r - low).clamp_min(0)
    return torch.minimum(r, linear.amin(dim=2, keepdim=True)) if bound else r


def separate_static(video: torch.Tensor, config: StaticConfig) -> torch.Tensor:
    """``video`` ``(B, 3, T, H, W)`` in [0, 1] → ``(B, 2, 3, T, H, W)``: the still layer
    and the moving one (module doc), in fp32 whatever the caller's autocast."""
    with torch.autocast(video.device.type, enabled=False):
        v = video.float()
        lam = config.strength
        if config.blend == "add":
            linear = to_linear(v)
            r = lam * still_reflection(linear, config.floor, config.bound).expand_as(v)
            scene = (linear - r).clamp_min(0)
            return to_display(torch.stack([r, scene], dim=1))
        still = still_layer(v).expand_as(v)
        layers = torch.stack([still, 2 * v - still], dim=1)
        return v.unsqueeze(1) + lam * (layers - v.unsqueeze(1))


# The two shipped presets: their settings were chosen on the corpus train split
# (benchmarks/static_layer.py; docs/static-layer.md), their scores are in the model card.
PRESETS = {
    "static-layer": (
        StaticConfig(strength=0.5),
        "a layer fixed to the camera at about the other's strength (an overlay, a bright "
        "reflection), from the temporal median of the gradients; the other layer must "
        "move; not for faint reflections"),
    "static-reflection": (
        StaticConfig(strength=1.0, blend="add", floor=0.05, bound=True),
        "a faint reflection fixed to the camera (a windscreen seen by a mounted camera), "
        "found in linear light from the temporal median of the gradients and held under "
        "the clip's darkest frame; the scene must move"),
}


class StaticLayer(LayerSeparator):
    """Temporal median of gradients → still layer; the rest → moving layer (module doc).

    Args:
        config: its settings (:class:`StaticConfig`); ``name``/``summary`` as listed.
    """

    fixed_order = True
    n_layers = 2
    # the gradients of a mirrored clip, their median and an FFT over it, all in fp32:
    # measured 190-250 B per voxel (ru_maxrss, 32×224² and 32×448², both presets), plus
    # the Separator's copies of the segment and its layers
    bytes_per_voxel = 320

    def __init__(self, config: StaticConfig | None = None, *, name: str = "static-layer",
                 summary: str = ""):
        self.config = config or StaticConfig()
        self.name = name
        self.summary = summary or "a layer fixed to the camera (static_layer, custom settings)"

    def separate_clip(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        return separate_static(video[None].float(), self.config)[0].clamp_(0, 1)
