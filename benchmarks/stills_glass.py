"""Faint reflections built from photographs the corpus never holds: do the camera-fixed
methods carry beyond the five val clips?

    python benchmarks/stills_glass.py                       # static-reflection, 64 blends
    python benchmarks/stills_glass.py -n static-reflection 'static_layer:{"blend": "add",
        "strength": 0.5, "bound": false}' static-layer default
    python benchmarks/stills_glass.py --motion zoom     # the scene comes toward the camera

``centrifuge evaluate --blend camera-fixed-reflection`` pairs the corpus val clips, five
scenes. Here the pictures are scikit-image's photographs (its package folder; nothing is
downloaded): one is fixed in the frame and reflected in glass by the project's
reflection model (``data/mixing.py: reflection_blend``), another pans behind the glass at
the camera-fixed blends' speeds (``data/camera_fixed.py``), or with ``--motion zoom``
grows toward the camera as a road does through a windscreen (a window shrinking about a
point near the centre, :data:`ZOOM` of its size per frame). Both are perfectly still
pictures, so this is easier than real clips, which move a little of their own; what it
adds is many scenes. Seeded per blend; scored like ``centrifuge evaluate``: the ratio to
Identity and to the best trivial answer (on faint reflections, the blend beside black).
A model is a pretrained name or checkpoint, or ``static_layer:{json arguments}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from centrifuge.data.camera_fixed import draw_pan, pan, travel
from centrifuge.data.mixing import reflection_blend, transparent_alpha
from centrifuge.evaluate.blends import evaluate_blends
from centrifuge.io import frames_to_tensor
from centrifuge.methods import create_method
from centrifuge.precision import cpu_header
from centrifuge.separation.inference import Separator

# scikit-image's natural photographs (colour or grey; not its charts, masks or scans)
PHOTOS = ["astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png",
          "coins.png", "grass.png", "gravel.png", "moon.png", "motorcycle_left.png",
          "page.png", "rocket.jpg", "clock_motion.png"]
SEED = 424_242
ZOOM = (0.01, 0.03)  # forward motion: the fraction the seen window shrinks per frame


def photo(name: str, side: int) -> np.ndarray:
    """The photograph's central square at ``side``², RGB uint8."""
    import skimage.data

    img = Image.open(Path(skimage.data.__file__).parent / name).convert("RGB")
    s = min(img.size)
    left, top = (img.width - s) // 2, (img.height - s) // 2
    return np.asarray(img.crop((left, top, left + s, top + s)).resize((side, side),
                                                                      Image.BICUBIC))


def zoom(picture: np.ndarray, frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Frames ``(T, size, size, 3)`` of ``picture`` coming toward the camera: a window
    about a point near the centre shrinking by a rate in :data:`ZOOM` per frame."""
    side = picture.shape[0]
    rate = rng.uniform(*ZOOM)
    cy, cx = (side / 2 + rng.uniform(-0.1, 0.1) * side for _ in range(2))
    img = Image.fromarray(picture)
    out = []
    for t in range(frames):
        half = side / 2 * (1 - rate) ** t
        half = min(half, cy, cx, side - cy, side - cx)  # stays inside the picture
        box = (cx - half, cy - half, cx + half, cy + half)
        out.append(np.asarray(img.resize((size, size), Image.BICUBIC, box=box)))
    return np.stack(out)


class StillsGlass(Dataset):
    """``samples`` faint reflections of :data:`PHOTOS`, items like
    :class:`~centrifuge.data.camera_fixed.CameraFixedPairs`' (``v1`` the reflection)."""

    def __init__(self, samples: int, frames: int, size: int, motion: str = "pan"):
        self.samples, self.frames, self.size, self.motion = samples, frames, size, motion

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, i: int) -> dict:
        frames, size = self.frames, self.size
        rng = np.random.default_rng([SEED, i])
        a, b = rng.choice(len(PHOTOS), size=2, replace=False)
        fixed = np.repeat(photo(PHOTOS[a], size)[None], frames, axis=0)
        if self.motion == "zoom":
            scene = zoom(photo(PHOTOS[b], 4 * size), frames, size, rng)
        else:
            side = size + travel(frames, size) + 2
            start, velocity = draw_pan(rng, frames, size, side)
            scene = pan(np.repeat(photo(PHOTOS[b], side)[None], frames, axis=0), size, start,
                        velocity)
        r = reflection_blend(frames_to_tensor(scene), frames_to_tensor(fixed), rng)
        return {"mix": r.mix, "v1": r.reflection, "v2": r.transmission,
                "alpha": transparent_alpha(tuple(r.mix[:1].shape[1:]), 1 - r.alpha),
                "meta": {"source1": PHOTOS[a], "source2": PHOTOS[b]}}


def load(spec: str):
    """A ``static_layer:{json}`` method, else the name or path as ``Separator`` takes it."""
    if spec.startswith("static_layer:"):
        return create_method("static_layer", **json.loads(spec.split(":", 1)[1]))
    return spec


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", "--models", nargs="+", default=["static-reflection"])
    p.add_argument("--motion", choices=["pan", "zoom"], default="pan",
                   help="the scene behind the glass pans past, or comes toward the camera")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args(argv)
    data = StillsGlass(args.samples, args.frames, args.size, args.motion)
    print(f"{cpu_header()}\n{args.samples} blends of {len(PHOTOS)} scikit-image photographs, "
          f"the scene {'zooming' if args.motion == 'zoom' else 'panning'}, "
          f"{args.frames}×{args.size}²\n")
    print("| model | ratio to Identity | best trivial (ratio) | **ratio to best trivial** | "
          "worse than Identity | PSNR reflection / scene (blend's) dB | seconds |")
    print("|---|---|---|---|---|---|---|")
    for spec in args.models:
        start = time.perf_counter()
        sep = Separator(load(spec), precision="fp32", segment=args.frames, overlap=0.0,
                        max_size=None, progress=False)
        r = evaluate_blends(sep, blend="stills-glass", data=data, progress=False)
        o = r.oracle
        print(f"| {spec} | {o.ratio:.3f} | {r.best_trivial} "
              f"({r.baselines[r.best_trivial] / r.identity:.3f}) | **{o.vs_trivial:.3f}** | "
              f"{100 * o.worse_share:.0f} % | {o.psnr[0]:.2f} / {o.psnr[1]:.2f} "
              f"({r.identity_psnr[0]:.2f} / {r.identity_psnr[1]:.2f}) | "
              f"{time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
