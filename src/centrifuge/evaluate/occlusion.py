"""Occlusion blends scored on what the blend holds (not in the papers).

An occlusion blend (ICCV 2019 §3.3) pastes a part of V¹ — one SLIC supervoxel, about a
tenth of the frame — over V², and the model card's PIT loss asks for *both* whole clips
back. Most of V¹ was never in the blend, so no method can score well on it: even told the
true mask, an answer gets only 5 % under a flat grey frame (``evaluate/ceilings.py``).
This yardstick asks only for what the blend holds, per layer:

* **occluder** — V¹ where it shows (α > ½ in that frame);
* **scene** — V² wherever the clip shows it in *some* frame (the camera of these blends
  is still, so a pixel is the same scene point throughout): where the occluder covers it
  now but not always, the scene has to be brought from the frames where it shows — what
  motion reveals. Its part under the occluder now is also reported alone (**revealed**);
* **hidden** — V² where no frame shows it: scored apart, as a fill, and left out of the
  total (nothing in the blend says what is there).

Each part is the reconstruction loss of eq. (3) (L1 + ½ gradient L1, the gradient where
both neighbours are in the part) over the part's pixels only; the two outputs are matched
to the two layers by the lower total, occluder + scene. Identity — the blend as both
layers — is exact on the occluder and on the scene where it shows, so every point of its
score is the revealed part; a method is better than the blend only where it brings the
scene back from other frames without spoiling what already shows.

Shapes: outputs ``(B, n, 3, T, H, W)``, targets ``(B, 2, 3, T, H, W)`` (V¹, V²), alpha
``(B, 1, T, H, W)`` (1 where V¹ shows).
"""

from __future__ import annotations

import itertools

import torch

PARTS = ("occluder", "scene", "revealed", "hidden")


def regions(alpha: torch.Tensor) -> dict[str, torch.Tensor]:
    """Boolean ``(B, 1, T, H, W)`` masks of the parts (module doc)."""
    occluder = alpha > 0.5
    ever = (~occluder).any(dim=2, keepdim=True).expand_as(occluder)
    return {"occluder": occluder, "scene": ever, "revealed": ever & occluder,
            "hidden": ~ever}


def masked_loss(u: torch.Tensor, v: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Eq. (3)'s L1 + ½ gradient L1 of ``u − v`` ``(B, 3, T, H, W)`` over the pixels of
    ``where`` ``(B, 1, T, H, W)`` only → ``(B,)`` (0 where the part is empty)."""
    d = (u - v).float()
    w = where.float()

    def mean(x, m):
        return (x * m).sum(dim=(1, 2, 3, 4)) / (3 * m.sum(dim=(1, 2, 3, 4))).clamp_min(1)

    wx = w[..., 1:] * w[..., :-1]
    wy = w[..., 1:, :] * w[..., :-1, :]
    return (mean(d.abs(), w)
            + 0.5 * (mean((d[..., 1:] - d[..., :-1]).abs(), wx)
                     + mean((d[..., 1:, :] - d[..., :-1, :]).abs(), wy)))


def part_scores(outputs: torch.Tensor, targets: torch.Tensor,
                alpha: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per blend ``(B,)``: each part's loss and ``total`` (occluder + scene), the outputs
    matched to the layers by the lower total; and ``revealed_share``
    (the share of pixels × frames where the scene is covered now but shown in another
    frame: what the yardstick asks a method to bring back)."""
    parts = regions(alpha)
    best: dict[str, torch.Tensor] | None = None
    for i, j in itertools.permutations(range(outputs.shape[1]), 2):
        occluder, scene = outputs[:, i], outputs[:, j]
        s = {"occluder": masked_loss(occluder, targets[:, 0], parts["occluder"])}
        for name in ("scene", "revealed", "hidden"):
            s[name] = masked_loss(scene, targets[:, 1], parts[name])
        s["total"] = s["occluder"] + s["scene"]
        if best is None:
            best = s
        else:
            better = s["total"] < best["total"]
            best = {k: torch.where(better, s[k], best[k]) for k in best}
    best["revealed_share"] = parts["revealed"].float().mean(dim=(1, 2, 3, 4))
    return best


def scene_from_other_frames(mix: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """A told-mask ceiling for the scene: where the occluder covers it, the mean of the
    frames where the same pixel shows the scene (exact for a still scene and camera);
    ``(B, 3, T, H, W)``."""
    shows = (alpha <= 0.5).to(mix.dtype)
    mean = (mix * shows).sum(dim=2, keepdim=True) / shows.sum(dim=2, keepdim=True).clamp_min(1)
    return shows * mix + (1 - shows) * mean
