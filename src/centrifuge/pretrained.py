"""Named, shipped models: file, sha256, and what they were trained on.

Weights live inside the package (``centrifuge/weights/*.safetensors``) so that
``centrifuge separate`` works offline on a fresh install; the sha256 below is checked at
every load, so a damaged or swapped file is refused instead of silently producing
garbage. Each model's card (data, recipe, command, time, metrics) is
``centrifuge/weights/MODEL_CARD.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from centrifuge.errors import CentrifugeError, ModelLoadingError

WEIGHTS_DIR = Path(__file__).with_name("weights")


@dataclass(frozen=True)
class PretrainedModel:
    name: str
    file: str
    sha256: str
    summary: str


PRETRAINED: dict[str, PretrainedModel] = {}
ALIASES: dict[str, str] = {}


def _register(model: PretrainedModel, *aliases: str) -> None:
    PRETRAINED[model.name] = model
    for a in aliases:
        ALIASES[a] = model.name


_register(
    PretrainedModel(
        name="c3-cpu-v1",
        file="c3-cpu-v1.safetensors",
        sha256="86b91a4d9b7ca231e988195b8ed0cff1c1efdcd63a1307465321603c51b4da18",
        summary="c3_cpu (ICCV 2019 C3, internal-prediction control, n=2), configs/c3cpu.yaml: "
                "grown from centrifuge-cpu-v2; the sound picks a layer (selected.mp4)",
    ),
)
# Superseded models leave the package (a lighter install, a working tree a lent GPU can
# take): centrifuge-cpu-v1, -v2 and -v3, the defaults before the training-free ``auto``
# (v3 scored 1.01× Identity on transparent blends and worse than a flat grey frame on
# occlusion, so no user lost a separation), and centrifuge-small-v1, the CPU campaign's
# first stretch (the campaign ended: docs/campaign.md). weights/MODEL_CARD.md gives the
# commands that rebuild each. c3-cpu-v1 stays: it is the only network a sound controls.
RETIRED = {"centrifuge-cpu-v1": "configs/cpu.yaml", "centrifuge-cpu-v2": "configs/cpu2.yaml",
           "centrifuge-cpu-v3": "configs/cpu3.yaml", "centrifuge-small-v1": "configs/small.yaml"}


def list_pretrained() -> list[str]:
    """The shipped networks' names (:func:`centrifuge.methods.list_methods` adds the
    training-free methods): what ``Separator(...)`` and ``centrifuge separate -n`` take."""
    return sorted(PRETRAINED) + sorted(ALIASES)


def describe_pretrained() -> list[tuple[str, str]]:
    rows = [(name, m.summary) for name, m in sorted(PRETRAINED.items())]
    rows += [(alias, f"= {target}") for alias, target in sorted(ALIASES.items())]
    return rows


def load_pretrained(name: str, *, device: str | torch.device = "cpu"):
    """``(model, name)`` of a shipped model, after checking the file's sha256."""
    from centrifuge.data.corpus import sha256_file
    from centrifuge.models.checkpoint import load_model

    target = ALIASES.get(name, name)
    if target in RETIRED:
        raise ModelLoadingError(
            f"{name} is no longer shipped (superseded); rebuild it with `centrifuge train -c "
            f"{Path(RETIRED[target]).stem}` (weights/MODEL_CARD.md) and pass the checkpoint")
    if target not in PRETRAINED:
        raise ModelLoadingError(
            f"unknown pretrained model {name!r}; available: {', '.join(list_pretrained())}"
        )
    entry = PRETRAINED[target]
    path = WEIGHTS_DIR / entry.file
    if not path.is_file():
        raise ModelLoadingError(f"{path} is missing from the installation; reinstall the package")
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ModelLoadingError(
            f"{path}: sha256 {digest[:12]}… does not match the shipped model "
            f"({entry.sha256[:12]}…); the file is damaged, reinstall the package"
        )
    return load_model(path, device=device), entry.name


def resolve_model(model, device: torch.device):
    """``(model, name)`` from a model object, a checkpoint path or a pretrained name."""
    from centrifuge.models.base import LayerModel
    from centrifuge.models.checkpoint import load_model

    if isinstance(model, LayerModel):
        return model.to(device).eval(), getattr(model, "model_name", "model")
    text = str(model)
    path = Path(text)
    if path.suffix in (".safetensors", ".ckpt") or os.sep in text or path.exists():
        return load_model(path, device=device), path.stem
    if text in list_pretrained() or text in RETIRED:
        loaded, name = load_pretrained(text, device=device)
        return loaded, name
    raise CentrifugeError(
        f"unknown model {text!r}; pretrained: {', '.join(list_pretrained())} "
        "(or pass a .safetensors checkpoint written by `centrifuge train`)"
    )
