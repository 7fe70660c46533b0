"""Training configuration: dataclasses, loaded from YAML, overridden as ``key=value``.

Defaults are the CVPR 2019 paper's recipe (§4.1): SGD, momentum 0.99, lr 0.1 → 0.05 at
100k → 0.025 at 150k → 0.01 at 200k iterations, 240k iterations, batch 10, 32×112²
clips, α = 0.5, BatchNorm statistics at evaluation. A YAML file (``configs/*.yaml``, or
any path) only states what differs; ``centrifuge train --config tiny data.frames=16``
overrides one field, the value parsed as YAML (``optim.milestones=[10,20]``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from centrifuge.config_merge import merge as _merge
from centrifuge.config_merge import set_dotted as _set_dotted
from centrifuge.data.augment import AugmentConfig
from centrifuge.data.synthetic import SyntheticConfig
from centrifuge.data.textures import FRAMES_PER_CLIP
from centrifuge.errors import CentrifugeError, ConfigError
from centrifuge.losses import LossWeights

CONFIG_DIR = Path(__file__).with_name("configs")
# The recipes of particular runs (the shipped checkpoints', the CPU campaign's) live in the
# repository's configs/, not in the installed package: found there when running from a
# checkout (an editable install), else passed by path.
RUN_CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@dataclass
class ModelSection:
    """``name``: a registered model; ``args``: :class:`CentrifugeConfig` overrides;
    ``init``: a checkpoint or pretrained name (same architecture) whose weights the
    model starts from, e.g. to fine-tune a shipped model on new data."""

    name: str = "centrifuge"
    args: dict = field(default_factory=dict)
    init: str | None = None


@dataclass
class DataConfig:
    """Where clips come from and how they are blended (see ``centrifuge/data/``).

    ``source``: ``corpus`` (root = corpus folder, default cache), ``folder`` or
    ``kinetics`` (root = folder or CSV) for real video; ``synthetic`` for procedural
    layered video (:mod:`~centrifuge.data.synthetic`); ``mixed`` for both, a share
    ``synthetic_ratio`` of the clips synthetic and the rest from ``real_source``.
    ``textures``: a saved texture bank for the generator (default: built from
    scikit-image's stills, procedural textures and, with ``texture_corpus``,
    ``texture_frames`` frames of each corpus train clip; ``texture_stills`` adds the corpus
    stills, photographs of scenes no clip shows). Validation is real video, ``val_samples``
    blends of ``val_source``/``val_root`` (default: the corpus ``val`` split, or the training source
    when it is real and not the corpus); ``val_samples: 0`` leaves it out — for a machine
    without PyAV (a lent GPU), which then validates on ``val_synthetic`` alone.
    ``augment``: training-only changes to real clips;
    ``length_power``: how much longer videos are drawn more often (see
    :class:`~centrifuge.data.clips.ClipSampler`). ``blend``, ``alpha``, ``reflection``,
    ``occlusion``, ``superpixels``, ``frozen``: see :class:`~centrifuge.data.pairs.BlendConfig`.
    ``audio``: items carry V¹'s sound (C3); ``audio_v2``: in training, V² has sound too
    (see :class:`~centrifuge.data.pairs.BlendedPairs`).
    ``curriculum``: easier blends first — a list of stages ``{steps: N, <blend fields>}``
    (blend fields: ``blend``, ``alpha``, ``reflection``, ``occlusion``, ``frozen``), each
    used for its N training steps in order, then the fields above for the rest
    (:mod:`~centrifuge.data.curriculum`). ``val_synthetic``: also validate on this many
    held-out procedural blends of each kind (transparent α = ½ with both layers moving,
    and occlusion; the run's generator, a fixed seed), logged as
    ``val_synth_<kind>/ratio`` and ``/vs_trivial`` — the curve that resolves small gains,
    which 32 real val blends cannot. ``sensor_noise``: training only — the probability
    that a blend gets sensor noise after blending, its targets clean
    (:class:`~centrifuge.data.pairs.BlendedPairs`); with ``synthetic.noise: 0`` no target
    carries noise a model cannot attribute. ``match_colour``: training only — both
    layers of every blend get the same per-channel mean and spread, so no colour cast
    tells them apart (docs/motion.md: better real-val ratios than natural blends).
    """

    source: str = "corpus"
    root: str | None = None
    real_source: str = "corpus"
    synthetic_ratio: float = 0.5
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    textures: str | None = None
    texture_corpus: bool = True
    texture_frames: int = FRAMES_PER_CLIP
    texture_stills: bool = False
    val_source: str | None = None
    val_root: str | None = None
    frames: int = 32
    stride: int = 1
    size: int = 112
    scale: float = 1.15
    blend: str = "transparent"
    alpha: float | list = 0.5
    reflection: float = 0.0
    occlusion: float = 0.5
    superpixels: int = 20
    frozen: int = 0
    audio: bool = False
    audio_v2: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    length_power: float = 0.0
    batch_size: int = 10
    workers: int = 2
    cache: bool = False
    val_samples: int = 64
    val_batch_size: int | None = None
    val_synthetic: int = 0
    sensor_noise: float = 0.0
    match_colour: bool = False
    curriculum: list = field(default_factory=list)
    seed: int = 0

    def blend_config(self):
        """The :class:`~centrifuge.data.pairs.BlendConfig` these fields describe."""
        from centrifuge.data.pairs import BlendConfig

        return BlendConfig(blend=self.blend, alpha=self.alpha, reflection=self.reflection,
                           occlusion=self.occlusion,
                           superpixels=self.superpixels, frozen=self.frozen)


@dataclass
class OptimConfig:
    """``name``: ``sgd`` (the paper) or ``adamw``; ``schedule``: ``step`` (lr becomes
    ``lr_values[k]`` at ``milestones[k]``), ``cosine`` or ``constant``; optional linear
    ``warmup_steps``; ``encoder_lr_scale`` multiplies the learning rate of the I3D
    encoder(s), e.g. 0.1 to keep Kinetics features while the decoder learns;
    ``train_only``: names of the model's parts that train (e.g. ``[regressor]``: a C3's
    control regressor), everything else frozen; empty: everything trains.
    ``cooldown_steps``: the run's last steps decay the learning rate linearly to 0 (the
    "decay" of a warmup-stable-decay schedule), from ``cooldown_start`` — by default the
    step the run starts or resumes from; the run then ends at start + steps. A campaign
    at a constant rate ships weights from such a branch (``train --resume RUN --run-dir
    NEW optim.cooldown_steps=N``) and goes on from its own last step."""

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.99
    weight_decay: float = 0.0
    schedule: str = "step"
    milestones: list = field(default_factory=lambda: [100_000, 150_000, 200_000])
    lr_values: list = field(default_factory=lambda: [0.05, 0.025, 0.01])
    warmup_steps: int = 0
    encoder_lr_scale: float = 1.0
    grad_clip: float | None = None
    train_only: list = field(default_factory=list)
    cooldown_steps: int = 0
    cooldown_start: int | None = None


@dataclass
class TrainerConfig:
    """What Lightning's ``Trainer`` gets: devices, precision, strategy, schedule of
    validation (every ``val_every`` steps) and logging. ``precision: auto`` trains in
    bf16-mixed where the device runs bf16 natively and in 32-true elsewhere
    (:mod:`centrifuge.precision`); the choice is written to the run's log.
    ``max_minutes``: stop this segment of the run after so many minutes of wall time
    (0: no limit) and export its weights, as at ``max_steps`` — a lent machine's time is
    what limits a run there, not a step count."""

    max_steps: int = 240_000
    precision: str = "auto"
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    val_every: int = 2000
    log_every: int = 20
    accumulate: int = 1
    channels_last: bool = True
    seed: int = 0
    max_minutes: float = 0.0


@dataclass
class TrainConfig:
    name: str = "custom"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    out_dir: str = "runs"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def resolve_config_path(name_or_path: str) -> Path:
    """A path to a YAML file, or the name of a shipped config (``tiny``, ``cpu``, ...)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise ConfigError(f"{p}: no such config file")
        return p
    for folder in _config_dirs():
        if (folder / f"{name_or_path}.yaml").is_file():
            return folder / f"{name_or_path}.yaml"
    raise ConfigError(
        f"unknown config {name_or_path!r}; known: {', '.join(list_configs())} "
        "(or pass a path to a .yaml file; the per-run recipes are in the repository's "
        "configs/ folder)"
    )


def _config_dirs() -> list[Path]:
    return [CONFIG_DIR] + ([RUN_CONFIG_DIR] if RUN_CONFIG_DIR.is_dir() else [])


def list_configs() -> list[str]:
    """The configs known by name: the package's, and a checkout's configs/ folder."""
    return sorted({p.stem for d in _config_dirs() for p in d.glob("*.yaml")})


def load_config(name_or_path: str | None = None, overrides: list[str] = ()) -> TrainConfig:
    """Build a :class:`TrainConfig` from defaults, a YAML file, and ``key=value`` overrides."""
    config = TrainConfig()
    data: dict = {}
    if name_or_path:
        path = resolve_config_path(name_or_path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML ({str(e).splitlines()[0]})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: unreadable config ({e})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config is a mapping of sections (model:, data:, ...), "
                              f"not a {type(data).__name__}")
        data.setdefault("name", path.stem)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. data.frames=16)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        _set_dotted(data, key.strip(), value)
    _merge(config, data)
    return validate(config)


def validate(config: TrainConfig) -> TrainConfig:
    """Check the sections whose fields depend on each other (their own constructors
    hold the rules), so a bad value fails before anything is built or written."""
    d = config.data
    d.augment = AugmentConfig(**dataclasses.asdict(d.augment))
    d.synthetic = SyntheticConfig(**dataclasses.asdict(d.synthetic))
    d.blend_config()
    if d.source not in DATA_SOURCES:
        raise ConfigError(f"data.source must be one of {', '.join(DATA_SOURCES)}, "
                          f"got {d.source!r}")
    if d.source == "synthetic" and (d.augment != AugmentConfig() or d.length_power):
        raise ConfigError("data.augment and data.length_power change real clips only; with "
                          "data.source synthetic they would be ignored: remove them (or use "
                          "data.source mixed)")
    if d.textures and (d.texture_stills or d.texture_frames != FRAMES_PER_CLIP):
        raise ConfigError("data.textures is a saved bank whose images are fixed: "
                          "data.texture_stills / data.texture_frames would be ignored; choose "
                          "them when writing it (`centrifuge corpus bundle --texture-stills "
                          "--texture-frames N`) or drop data.textures")
    if not 0 <= d.synthetic_ratio <= 1:
        raise ConfigError(f"data.synthetic_ratio must be in [0, 1], got {d.synthetic_ratio}")
    from centrifuge.data.pairs import check_audio, check_match_colour, check_sensor_noise

    check_audio(d.audio, d.audio_v2)
    from centrifuge.data.curriculum import check_curriculum

    check_curriculum(d.curriculum, d.blend_config())
    check_sensor_noise(d.sensor_noise)
    check_match_colour(d.match_colour)
    if d.val_synthetic < 0:
        raise ConfigError(f"data.val_synthetic must be ≥ 0, got {d.val_synthetic}")
    if d.val_samples == 0 and d.val_synthetic == 0:
        raise ConfigError("data.val_samples=0 leaves nothing to validate on: set "
                          "data.val_synthetic > 0 (held-out procedural blends)")
    t, o = config.trainer, config.optim
    for name, value, low in (
        ("data.batch_size", d.batch_size, 1), ("data.frames", d.frames, 2),
        ("data.size", d.size, 16), ("data.stride", d.stride, 1), ("data.workers", d.workers, 0),
        ("data.texture_frames", d.texture_frames, 1),
        ("data.val_samples", d.val_samples, 0), ("data.val_batch_size", d.val_batch_size, 1),
        ("trainer.max_steps", t.max_steps, 1), ("trainer.val_every", t.val_every, 1),
        ("trainer.log_every", t.log_every, 1), ("trainer.accumulate", t.accumulate, 1),
        ("trainer.num_nodes", t.num_nodes, 1), ("optim.warmup_steps", o.warmup_steps, 0),
    ):
        if value is not None and value < low:
            raise ConfigError(f"{name} must be at least {low}, got {value}")
    if not (math.isfinite(t.max_minutes) and t.max_minutes >= 0):
        raise ConfigError(f"trainer.max_minutes must be ≥ 0 (0: no limit), got {t.max_minutes}")
    if not (math.isfinite(d.scale) and d.scale >= 1):
        raise ConfigError(f"data.scale must be ≥ 1 (crop margin), got {d.scale}")
    if t.precision not in TRAINER_PRECISIONS:
        raise ConfigError(f"trainer.precision must be one of {', '.join(TRAINER_PRECISIONS)}, "
                          f"got {t.precision!r}")
    if not (math.isfinite(o.lr) and o.lr > 0):
        raise ConfigError(f"optim.lr must be a positive number, got {o.lr}")
    if o.name not in ("sgd", "adamw"):
        raise ConfigError(f"optim.name must be sgd or adamw, got {o.name!r}")
    if o.schedule not in ("step", "cosine", "constant"):
        raise ConfigError(f"optim.schedule must be step, cosine or constant, got {o.schedule!r}")
    if o.schedule == "step" and len(o.milestones) != len(o.lr_values):
        raise ConfigError("optim.milestones and optim.lr_values must have the same length")
    if not 0 <= o.momentum < 1 or o.weight_decay < 0 or o.encoder_lr_scale < 0:
        raise ConfigError("optim.momentum must be in [0, 1), optim.weight_decay and "
                          "optim.encoder_lr_scale ≥ 0")
    if not (isinstance(o.cooldown_steps, int) and o.cooldown_steps >= 0) or not (
            o.cooldown_start is None or (isinstance(o.cooldown_start, int)
                                         and o.cooldown_start >= 0)):
        raise ConfigError("optim.cooldown_steps must be a whole number ≥ 0 and "
                          f"optim.cooldown_start one or null, got {o.cooldown_steps!r} and "
                          f"{o.cooldown_start!r}")
    if o.grad_clip is not None and not o.grad_clip > 0:
        raise ConfigError(f"optim.grad_clip must be positive or null, got {o.grad_clip}")
    _check_model(config.model)
    return config


# What Lightning's Trainer(precision=...) accepts.
TRAINER_PRECISIONS = ("auto", "32-true", "32", "bf16-mixed", "16-mixed", "bf16-true",
                      "16-true", "64-true", "64", "bf16", "16", "transformer-engine")


def _check_model(section: ModelSection) -> None:
    """Build the model without weights (meta device): bad names or arguments fail now,
    before a run folder exists."""
    import torch

    from centrifuge.models.registry import create_model, scratch_args

    if not isinstance(section.args, dict):
        raise ConfigError(f"model.args must be a mapping, got {section.args!r}")
    from centrifuge.methods.registry import training_free_names

    if section.name in training_free_names():
        raise ConfigError(f"model: {section.name} is a training-free method, there is "
                          f"nothing to train; use it as it is, e.g. `centrifuge separate "
                          f"-n {section.name}`")
    args = scratch_args(section.args)
    try:
        with torch.device("meta"):
            create_model(section.name, **args)
    except CentrifugeError as e:
        raise ConfigError(f"model: {e}") from None


DATA_SOURCES = ("corpus", "folder", "kinetics", "synthetic", "mixed")


def config_from_dict(data: dict) -> TrainConfig:
    config = TrainConfig()
    _merge(config, data)
    return validate(config)
