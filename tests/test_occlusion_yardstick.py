"""Occlusion blends scored on what the blend holds (evaluate/occlusion.py): the occluder
where it shows, the scene wherever some frame shows it, the never-seen part apart."""

from __future__ import annotations

import torch

from centrifuge.evaluate.blends import evaluate_blends, format_results
from centrifuge.evaluate.occlusion import part_scores, regions, scene_from_other_frames
from centrifuge.separation.inference import Separator

T, S = 8, 32


def _occlusion_blend():
    """A still scene and a square of another texture sliding over it, pasted opaque:
    ``(mix, targets, alpha)`` batched, the square's first position never uncovered."""
    g = torch.Generator().manual_seed(0)
    scene = torch.rand(1, 3, 1, S, S, generator=g).expand(1, 3, T, S, S)
    occluder = torch.rand(1, 3, T, S, S, generator=g)
    alpha = torch.zeros(1, 1, T, S, S)
    for t in range(T):
        alpha[..., t, 8:20, 2 + t : 14 + t] = 1  # slides right by 1 px per frame
    alpha[..., 10:14, 9:13] = 1  # a patch covered in every frame: never seen
    mix = alpha * occluder + (1 - alpha) * scene
    return mix, torch.stack([occluder, scene], dim=1), alpha


def test_the_parts_are_what_the_blend_holds():
    _, _, alpha = _occlusion_blend()
    r = regions(alpha)
    assert r["revealed"].any() and r["hidden"].any()
    assert not (r["scene"] & r["hidden"]).any()
    # a pixel under the occluder in one frame and shown in another is revealed there
    assert r["revealed"][0, 0, 0, 10, 2] and not r["hidden"][0, 0, 0, 10, 2]


def test_the_blend_itself_loses_only_where_motion_reveals_the_scene():
    mix, targets, alpha = _occlusion_blend()
    ident = part_scores(torch.stack([mix, mix], 1), targets, alpha)
    assert float(ident["occluder"]) == 0  # the blend is the occluder where it shows
    assert float(ident["scene"]) > 0.02 and float(ident["revealed"]) > 0.2
    truth = part_scores(targets.flip(1), targets, alpha)  # either order: matched by PIT
    assert float(truth["total"]) == 0 and float(truth["hidden"]) == 0
    # the scene from the frames that show it: exact wherever it is ever seen
    told = torch.stack([mix, scene_from_other_frames(mix, alpha)], 1)
    assert float(part_scores(told, targets, alpha)["scene"]) < 1e-6
    # an answer that smooths what already shows is worse than the blend
    soft = torch.stack([mix, 0.5 * mix + 0.25], 1)
    assert float(part_scores(soft, targets, alpha)["total"]) > float(ident["total"])


def test_evaluate_prints_the_occlusion_table():
    mix, targets, alpha = _occlusion_blend()
    items = [{"mix": mix[0], "v1": targets[0, 0], "v2": targets[0, 1], "alpha": alpha[0],
              "meta": {"source1": "square", "source2": "scene"}}]
    sep = Separator("static-layer", overlap=0.0, max_size=None, progress=False)
    r = evaluate_blends(sep, blend="occlusion", data=items, progress=False)
    assert set(r.parts) == {"method", "identity", "told mask", "told mask + other frames"}
    assert r.parts["told mask + other frames"]["scene"] < r.parts["identity"]["scene"]
    table = format_results([r], "static-layer")
    assert "what the blend holds" in table and "| told mask + other frames |" in table
