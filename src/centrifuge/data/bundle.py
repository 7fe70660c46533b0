"""A training bundle: the corpus clips and a texture bank in one small folder.

A machine without the package registries (a lent GPU) cannot run ``centrifuge corpus
build``. ``centrifuge corpus bundle DIR`` copies what training needs — the manifest, the
clips (≈ 15 MB) and the synthetic generator's texture bank (≈ 30 MB) — into ``DIR``;
there, ``CENTRIFUGE_HOME=DIR`` makes it the corpus and ``data.textures=DIR/textures.safetensors``
feeds the generator, so a recipe trains unchanged. The I3D weights are not copied: a run
that starts from a trained model (``model.init``) does not need them.

``--textures-only`` writes the bank alone, gzipped (``textures.safetensors.gz``, ≈ 12 MB):
what procedural training needs on a machine without PyAV, where no clip can be decoded
(``configs/gpu-small.yaml``, ``tools/gpu/``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from centrifuge.data.corpus import MANIFEST, Corpus
from centrifuge.data.textures import FRAMES_PER_CLIP, TextureBank
from centrifuge.errors import CentrifugeError

TEXTURES = "textures.safetensors"
TEXTURES_GZ = TEXTURES + ".gz"


def make_bundle(target: str | os.PathLike, root: str | os.PathLike | None = None, *,
                textures_only: bool = False, texture_frames: int = FRAMES_PER_CLIP,
                texture_stills: bool = False) -> Path:
    """Write the bundle to ``target`` (a new folder; built aside, renamed when complete);
    with ``textures_only`` just the gzipped texture bank. ``texture_frames`` and
    ``texture_stills``: the bank's ``data.texture_frames`` / ``data.texture_stills``."""
    target = Path(target)
    if target.exists():
        raise CentrifugeError(f"{target} already exists; choose a new folder for the bundle")
    corpus = Corpus.load(root)
    work = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(parents=True)
        if not textures_only:
            (work / "clips").mkdir()
            for clip in corpus.clips:
                shutil.copy2(corpus.path(clip), work / clip["file"])
            manifest = json.loads((corpus.root / MANIFEST).read_text())
            manifest["weights"] = []
            (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        bank = TextureBank.build(corpus.root, frames_per_clip=texture_frames,
                                 stills=texture_stills)
        bank.save(work / (TEXTURES_GZ if textures_only else TEXTURES))
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
