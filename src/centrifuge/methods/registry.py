"""Every separation method by name: :func:`create_method`, :func:`list_methods`,
:func:`describe_methods`.

Two kinds answer to a name. Training-free methods are registered here, their settings
in code (``static-layer``, ``static-reflection``; ``static_layer`` with your own
settings; ``auto``, which picks among them per clip, is ``default``). Learned ones are
the shipped networks of :mod:`centrifuge.pretrained` or a checkpoint that ``centrifuge
train`` wrote; they come back wrapped in a :class:`~centrifuge.methods.learned.LearnedSeparator`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from centrifuge.errors import CentrifugeError, ConfigError
from centrifuge.methods.auto import AutoConfig, AutoLayers
from centrifuge.methods.base import LayerSeparator
from centrifuge.methods.learned import LearnedSeparator
from centrifuge.methods.motion_layers import MotionConfig, MotionLayers
from centrifuge.methods.occluder import OccluderConfig, OccluderRemoval
from centrifuge.methods.static import PRESETS, StaticConfig, StaticLayer


@dataclass(frozen=True)
class MethodEntry:
    name: str
    summary: str
    build: Callable[..., LayerSeparator]


_METHODS: dict[str, MethodEntry] = {}


def register_method(name: str, summary: str, build: Callable[..., LayerSeparator]) -> None:
    """Offer a training-free method under ``name``; ``build(**settings)`` makes it."""
    _METHODS[name] = MethodEntry(name, summary, build)


MOTION_PRESETS = {
    "motion-layers": (MotionConfig(), "two layers that move differently (an overlay on a "
                      "moving shot, a window filmed from a moving camera) at about equal "
                      "strength, each followed by its own motion; no training"),
    "motion-reflection": (MotionConfig(model="add"), "a faint reflection and the scene behind "
                          "the glass, moving differently, solved in linear light where light "
                          "adds; no training"),
}


def _preset(cls, name: str, config, summary: str, custom: str, example: str):
    """A method ``cls`` with fixed settings; other settings go through ``custom``."""
    def build(**settings) -> LayerSeparator:
        if settings:
            raise ConfigError(f"{name} is a preset; for other settings use {custom} "
                              f"(e.g. create_method({custom!r}, {example}))")
        return cls(config, name=name, summary=summary)
    return build


def _custom(cls, config_class, name: str):
    return lambda **settings: cls(config_class.from_dict(settings), name=name)


for _cls, _presets, _config_class, _custom_name, _example, _knobs in (
        (StaticLayer, PRESETS, StaticConfig, "static_layer", "strength=1.0",
         "strength, blend, floor, bound"),
        (MotionLayers, MOTION_PRESETS, MotionConfig, "motion_layers", "rounds=2",
         "model, rounds, iterations, smooth, candidates")):
    for _name, (_config, _summary) in _presets.items():
        register_method(_name, _summary,
                        _preset(_cls, _name, _config, _summary, _custom_name, _example))
    register_method(_custom_name, f"{next(iter(_presets))} with your own settings ({_knobs})",
                    _custom(_cls, _config_class, _custom_name))


AUTO_SUMMARY = ("the default: per clip, two layers moving differently (joint solve) or a "
                "faint reflection fixed to the camera (static-reflection), an overlay or a "
                "reflection, whichever fits the clip; or the input, saying why; no training")
register_method("auto", AUTO_SUMMARY,
                _preset(AutoLayers, "auto", AutoConfig(), AUTO_SUMMARY, "auto_layers",
                        "margin=0.0"))
register_method("auto_layers", "auto with your own settings (margin, reflection_gain, "
                "still_px, still_lead, min_fit)",
                _custom(AutoLayers, AutoConfig, "auto_layers"))
OCCLUDER_SUMMARY = ("an occluder in front of the scene that moves differently from it (a "
                    "fence, drops or dirt on a window, a railing) taken away: the scene, "
                    "the occluder and its matte (layer_2); no training")
register_method("occluder", OCCLUDER_SUMMARY,
                _preset(OccluderRemoval, "occluder", OccluderConfig(), OCCLUDER_SUMMARY,
                        "occluder_removal", "rounds=3"))
register_method("occluder_removal", "occluder with your own settings (rounds)",
                _custom(OccluderRemoval, OccluderConfig, "occluder_removal"))
# What runs when no method is named (`centrifuge separate clip.mp4`, Separator()).
DEFAULT = "auto"


def training_free_names() -> list[str]:
    """The names of the registered training-free methods."""
    return sorted(_METHODS)


def list_methods() -> list[str]:
    """Names :func:`create_method` and ``centrifuge separate -n`` accept."""
    from centrifuge.pretrained import list_pretrained

    return sorted([*_METHODS, "default"]) + list_pretrained()


def describe_methods() -> list[tuple[str, str, str]]:
    """``(name, kind, summary)`` of every named method, training-free ones first."""
    from centrifuge.pretrained import describe_pretrained

    rows = [(e.name, "training-free", e.summary) for e in sorted(_METHODS.values(),
                                                                  key=lambda e: e.name)]
    rows.insert(0, ("default", "training-free", f"= {DEFAULT}"))
    return rows + [(name, "learned", summary) for name, summary in describe_pretrained()]


def create_method(method="default", *, device: str | torch.device = "cpu",
                  precision: str = "auto", **settings) -> LayerSeparator:
    """A :class:`LayerSeparator` from a name, a checkpoint path, a network or a method.

    Args:
        method: a name of :func:`list_methods`, a ``.safetensors`` checkpoint written by
            ``centrifuge train``, a :class:`~centrifuge.models.base.LayerModel`, or a
            :class:`LayerSeparator` (returned as it is).
        device / precision: where and how a learned network runs (training-free methods
            compute in fp32 on the CPU).
        settings: a training-free method's settings (``static_layer``'s strength, …).
    """
    from centrifuge.models.base import LayerModel
    from centrifuge.pretrained import PRETRAINED, RETIRED, resolve_model

    if isinstance(method, LayerSeparator):
        return method
    if isinstance(method, LayerModel):
        return LearnedSeparator(method, device=device, precision=precision)
    text = os.fspath(method) if isinstance(method, os.PathLike) else method
    if not isinstance(text, str):
        raise ConfigError(f"a method is a name, a checkpoint path or a model, got "
                          f"{type(method).__name__}")
    if text == "default":
        text = DEFAULT
    if text in _METHODS:
        return _METHODS[text].build(**settings)
    if settings:
        raise ConfigError(f"{text}: settings {sorted(settings)} are for training-free "
                          "methods; a network's arguments are in its checkpoint")
    dev = torch.device(device)
    try:
        model, name = resolve_model(text, dev)
    except CentrifugeError as e:
        if Path(text).suffix or os.sep in text or text in RETIRED:
            raise
        raise CentrifugeError(f"unknown model {text!r}; methods: "
                              f"{', '.join(list_methods())} (or pass a .safetensors "
                              "checkpoint written by `centrifuge train`)") from e
    entry = PRETRAINED.get(name)
    return LearnedSeparator(model, name=name, device=dev, precision=precision,
                            summary=entry.summary if entry else "")
