"""Model registry (timm style): ``@register_model``, :func:`create_model`, :func:`list_models`.

A registered factory takes keyword overrides of :class:`CentrifugeConfig` and returns a
model whose ``model_name`` is the registered name, so checkpoints can rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable

from centrifuge.errors import ConfigError, ModelLoadingError
from centrifuge.models.base import LayerModel
from centrifuge.models.centrifuge import Centrifuge, PredictorCorrector
from centrifuge.models.compositional import Compositional
from centrifuge.models.controllable import Controllable
from centrifuge.models.small import SmallConfig, SmallSeparator

_REGISTRY: dict[str, Callable[..., LayerModel]] = {}


def register_model(fn: Callable[..., LayerModel]) -> Callable[..., LayerModel]:
    """Register a factory under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, **overrides) -> LayerModel:
    """Build a registered model, e.g. ``create_model("centrifuge", n_outputs=2)``."""
    if name not in _REGISTRY:
        raise ModelLoadingError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    try:
        model = _REGISTRY[name](**overrides)
    except TypeError as e:
        raise ConfigError(f"bad arguments for model {name!r}: {e}") from None
    model.model_name = name
    return model


def scratch_args(args: dict) -> dict:
    """Model arguments with any pretrained encoder init turned off (the weights come from
    elsewhere, or do not matter); models without an ``encoder_init`` are left as they are."""
    return {**args, "encoder_init": "scratch"} if "encoder_init" in args else dict(args)


def restore_init_record(model: LayerModel, args: dict) -> None:
    """Keep the record of how the encoder was first initialised (see :func:`scratch_args`)."""
    if "encoder_init" in args:
        model.config.encoder_init = args["encoder_init"]


def _build(cls, defaults: dict, overrides: dict) -> LayerModel:
    return cls(cls.config_class.from_dict({**defaults, **overrides}))


# The paper's models (width 1, Mixed_5c, n = 4 by default; ~23 M / ~45 M parameters).
@register_model
def centrifuge(**overrides) -> LayerModel:
    return _build(Centrifuge, {}, overrides)


@register_model
def centrifuge_pc(**overrides) -> LayerModel:
    return _build(PredictorCorrector, {}, overrides)


# The shipped default's architecture, sized for CPUs: the Kinetics-400 I3D up to Mixed_4f
# (the paper's Table 4: as good as Mixed_5c), a lighter decoder, and residual outputs
# Oⁱ = V + Δⁱ so short trainings start from the Identity baseline (configs/cpu.yaml).
_CPU = {"endpoint": "Mixed_4f", "decoder_channels": (128, 64, 32, 16), "residual": True}


@register_model
def centrifuge_cpu(**overrides) -> LayerModel:
    return _build(Centrifuge, _CPU, overrides)


# Tiny variants for tests and smoke runs (width 1/8, a few hundred thousand parameters).
_TINY = {"width": 0.125, "endpoint": "Mixed_4f"}


@register_model
def centrifuge_tiny(**overrides) -> LayerModel:
    return _build(Centrifuge, _TINY, overrides)


@register_model
def centrifuge_pc_tiny(**overrides) -> LayerModel:
    return _build(PredictorCorrector, _TINY, overrides)


# ICCV 2019: the Compositional Centrifuge (C2) and its audio-controlled version (C3), at
# the paper's size, the CPU size (the shipped models; weights carry over from
# centrifuge_cpu) and the test size.
@register_model
def c2(**overrides) -> LayerModel:
    return _build(Compositional, {}, overrides)


@register_model
def c2_cpu(**overrides) -> LayerModel:
    return _build(Compositional, _CPU, overrides)


@register_model
def c2_tiny(**overrides) -> LayerModel:
    return _build(Compositional, _TINY, overrides)


@register_model
def c3(**overrides) -> LayerModel:
    return _build(Controllable, {}, overrides)


# A lighter audio network for CPUs: the spectrogram is 257 bins, most of the cost.
_AUDIO_CPU = {"audio_channels": (16, 32, 64, 64)}


@register_model
def c3_cpu(**overrides) -> LayerModel:
    return _build(Controllable, {**_CPU, **_AUDIO_CPU}, overrides)


@register_model
def c3_tiny(**overrides) -> LayerModel:
    return _build(Controllable, {**_TINY, "audio_channels": (8, 16), "regressor_channels": 16},
                  overrides)


# Designed for CPU training (models/small.py): a 1.5 M-parameter GroupNorm 3D U-Net with a
# routing, mixture-consistent head; trained at 8×64², runs at any size.
@register_model
def centrifuge_small(**overrides) -> LayerModel:
    return SmallSeparator(SmallConfig.from_dict(overrides))
