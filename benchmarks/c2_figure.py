"""ICCV 2019 Fig. 6 for a trained C2/C3: a transparent and an occlusion val blend.

    python benchmarks/c2_figure.py runs/iccv/t1/<C2 run>/model.safetensors \
        --out docs/c2-internals.png

Each half of the image: the input frame and the masks, then per output the β-weighted
layers and their sum (:func:`centrifuge.evaluate.figures.internals_figure`).
"""

from __future__ import annotations

import argparse
import sys

from PIL import Image

from centrifuge.data.clips import ClipSampler
from centrifuge.data.entries import make_entries
from centrifuge.data.pairs import BlendConfig, BlendedPairs
from centrifuge.evaluate.figures import internals_figure
from centrifuge.pretrained import resolve_model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--out", default="docs/c2-internals.png")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args(argv)
    import torch

    model, _ = resolve_model(a.model, torch.device("cpu"))
    sampler = ClipSampler(make_entries("corpus", None, "val"), frames=a.frames, crop=a.size,
                          train=False)
    sheets = []
    for blend in ("transparent", "occlusion"):
        data = BlendedPairs(sampler, 1, seed=a.seed, blend=BlendConfig(blend=blend),
                            audio=model.takes_audio)
        item = data[0]
        sheets.append(internals_figure(model, item["mix"], item.get("audio")))
    width = sum(s.width for s in sheets) + 16
    out = Image.new("RGB", (width, max(s.height for s in sheets)), "white")
    out.paste(sheets[0], (0, 0))
    out.paste(sheets[1], (sheets[0].width + 16, 0))
    out.save(a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
