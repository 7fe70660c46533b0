"""``centrifuge train``: build the module, data and Lightning ``Trainer`` from a config.

A run lives in ``<out_dir>/<config name>-<timestamp>/``::

    config.yaml          the full configuration (resuming reads it back)
    checkpoints/         Lightning checkpoints: last.ckpt, best.ckpt
    logs/segment-N/      metrics.csv per segment (a resume starts a new one): train/val
                         losses, the Identity baseline, the learning rate
    model.safetensors    the best model (plain data; what `centrifuge separate -n` takes)
    last.safetensors     the latest model
"""

from __future__ import annotations

import importlib.util
import shutil
import time
import warnings
from pathlib import Path

import lightning as L
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from centrifuge.config import TrainConfig, config_from_dict, load_config
from centrifuge.errors import ConfigError
from centrifuge.precision import resolve_precision
from centrifuge.train.callbacks import (
    ExportWeights,
    GracefulInterrupt,
    StepProgressBar,
    TimeLimit,
)
from centrifuge.train.datamodule import BlendedDataModule, monitored_metric
from centrifuge.train.module import CentrifugeModule


class TrainingInterrupted(Exception):
    """Training stopped early on SIGINT/SIGTERM; a checkpoint to resume from was saved."""

    def __init__(self, checkpoint: Path, step: int):
        super().__init__(
            f"interrupted at step {step}; checkpoint {checkpoint}; "
            f"continue with: centrifuge train --resume {checkpoint}"
        )
        self.checkpoint, self.step = checkpoint, step


def resolve_resume(resume: str | Path) -> tuple[Path, Path]:
    """``(run_dir, checkpoint)`` from a run folder or a ``.ckpt`` path."""
    p = Path(resume)
    ckpt = p / "checkpoints" / "last.ckpt" if p.is_dir() else p
    if not ckpt.is_file():
        raise ConfigError(f"{resume}: no checkpoint to resume from (expected {ckpt})")
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    return run_dir, ckpt


def check_checkpoint(ckpt: Path) -> dict:
    """Refuse a damaged or foreign ``.ckpt`` before anything is built (plain data only:
    ``weights_only`` never runs code from the file); returns its contents for
    :func:`check_weights_fit`."""
    import torch

    try:
        data = torch.load(ckpt, map_location="cpu", weights_only=True)
        ok = isinstance(data, dict) and {"state_dict", "global_step"} <= set(data)
    except Exception as e:  # any failure means: not our checkpoint
        raise ConfigError(f"{ckpt}: not a centrifuge training checkpoint "
                          f"({str(e).splitlines()[0][:100]})") from None
    if not ok:
        raise ConfigError(f"{ckpt}: not a centrifuge training checkpoint (no state_dict / "
                          "global_step)")
    return data


def check_weights_fit(ckpt: Path, data: dict, module) -> None:
    """Refuse a checkpoint (``data``, as loaded by :func:`check_checkpoint`) whose weights
    are another model's than ``module``'s (names or shapes differ)."""
    import torch

    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in data["state_dict"].items()
              if isinstance(v, torch.Tensor)}
    if own != theirs:
        other = (data.get("hyper_parameters") or {}).get("model_name", "another model")
        differ = sorted(set(own) ^ set(theirs)) or [k for k in own if own[k] != theirs[k]]
        raise ConfigError(f"{ckpt}: weights of {other}, not of {module.hparams.model_name} "
                          f"as configured ({len(differ)} tensors differ, e.g. {differ[0]}); "
                          "resume with the run's own config")


def config_for_resume(resume: str | Path, overrides: list[str] = (),
                      config_name: str | None = None) -> TrainConfig:
    """The configuration a run was started with, plus ``key=value`` overrides; a
    checkpoint outside a run folder takes ``config_name`` (``--config``) instead."""
    run_dir, _ = resolve_resume(resume)
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        if config_name:
            return load_config(config_name, list(overrides))
        raise ConfigError(f"{run_dir}: no config.yaml; pass --config to resume this checkpoint")
    if config_name:
        raise ConfigError(f"--resume reuses {saved}; drop --config {config_name} (change "
                          "single fields with key=value)")
    try:
        data = yaml.safe_load(saved.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{saved}: unreadable ({str(e).splitlines()[0]}); this is not a "
                          "run folder `centrifuge train` wrote") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{saved}: a {type(data).__name__}, not the mapping of sections "
                          "`centrifuge train` writes; pass the run's own folder")
    config = config_from_dict(data)
    if overrides:
        base = load_config(None, list(overrides))
        config = config_from_dict(_overlay(config.to_dict(), base.to_dict(), overrides))
    return config


def _overlay(old: dict, new: dict, overrides) -> dict:
    for item in overrides:
        keys = item.split("=", 1)[0].strip().split(".")
        src, dst = new, old
        for k in keys[:-1]:
            src, dst = src[k], dst[k]
        dst[keys[-1]] = src[keys[-1]]
    return old


def new_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(config.out_dir) / f"{config.name}-{stamp}"
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = Path(config.out_dir) / f"{config.name}-{stamp}-{n}"
    return run_dir


def plan_cooldown(config: TrainConfig, start_step: int) -> None:
    """A cool-down without a start begins where this run starts (``start_step``), and the
    run ends where it does; both land in config.yaml, so resuming the branch keeps them."""
    o = config.optim
    if not o.cooldown_steps:
        return
    if o.cooldown_start is None:
        o.cooldown_start = start_step
    end = o.cooldown_start + o.cooldown_steps
    if end <= start_step:
        raise ConfigError(f"optim.cooldown_start {o.cooldown_start} + cooldown_steps "
                          f"{o.cooldown_steps} ends before step {start_step}, where this "
                          "run resumes; drop optim.cooldown_start")
    config.trainer.max_steps = end


def trainer_precision(t) -> tuple[str, str]:
    """Lightning's precision for ``trainer.precision`` (``auto`` resolved) and why."""
    if t.precision != "auto":
        return t.precision, "trainer.precision"
    chosen = resolve_precision("auto", "cuda" if uses_gpu(t) else "cpu")
    return chosen.lightning, chosen.reason


def uses_gpu(t) -> bool:
    """Whether ``trainer.accelerator`` puts this run on a GPU."""
    import torch

    return t.accelerator in ("gpu", "cuda") or (t.accelerator == "auto"
                                               and torch.cuda.is_available())


def build_trainer(config: TrainConfig, run_dir: Path, extra_callbacks=(), **trainer_kwargs):
    t = config.trainer
    ckpt_dir = run_dir / "checkpoints"
    callbacks = [
        # val/ratio (loss / Identity) compares across clip sizes, e.g. between stages.
        ModelCheckpoint(dirpath=ckpt_dir, filename="best", mode="min",
                        monitor=monitored_metric(config.data),
                        save_top_k=1, enable_version_counter=False),
        # The latest state at every validation, whether or not it is the best: Lightning's
        # save_last only refreshes last.ckpt when a best checkpoint is written, so a run
        # killed after a plateau would resume from its old best step.
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                        enable_version_counter=False),
        GracefulInterrupt(ckpt_dir / "last.ckpt"),
        ExportWeights(run_dir, config.to_dict()),
        LearningRateMonitor(logging_interval="step"),
        *([TimeLimit(t.max_minutes)] if t.max_minutes else []),
        *extra_callbacks,
    ]
    if trainer_kwargs.get("enable_progress_bar", True) and not any(
            isinstance(c, TQDMProgressBar) for c in callbacks):
        callbacks.append(StepProgressBar())
    # One log folder per segment of a run: Lightning's CSV logger would otherwise delete
    # the metrics of the segment before a resume.
    segment = len(list((run_dir / "logs").glob("segment-*")))
    loggers = [CSVLogger(run_dir, name="logs", version=f"segment-{segment}")]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        loggers.append(TensorBoardLogger(run_dir, name="tb", version=""))
    total = t.max_steps * t.accumulate
    precision, _ = trainer_precision(t)
    kwargs = dict(
        max_steps=t.max_steps,
        # clips have one size per run: let cuDNN pick its fastest 3D convolutions once
        benchmark=uses_gpu(t) or None,
        precision=precision,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        val_check_interval=min(t.val_every * t.accumulate, total),
        check_val_every_n_epoch=None,
        log_every_n_steps=t.log_every,
        accumulate_grad_batches=t.accumulate,
        gradient_clip_val=config.optim.grad_clip,
        callbacks=callbacks,
        logger=loggers,
        default_root_dir=run_dir,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        enable_model_summary=False,
    )
    kwargs.update(trainer_kwargs)
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return L.Trainer(**kwargs)
    except (MisconfigurationException, ValueError) as e:
        raise ConfigError(f"trainer settings: {str(e).splitlines()[0]} (check trainer."
                          "accelerator, devices, strategy and precision)") from None


def train(
    config: TrainConfig,
    *,
    resume: str | Path | None = None,
    run_dir: str | Path | None = None,
    extra_callbacks=(),
    **trainer_kwargs,
) -> Path:
    """Train (or resume) a run; returns its folder. See the module docstring. With both
    ``resume`` and ``run_dir``, a new run folder branches off the resumed run at its step
    (weights, optimiser, data stream): the campaign's cool-down branches."""
    ckpt, start_step = None, 0
    if resume is not None:
        own_dir, ckpt = resolve_resume(resume)
        if run_dir is not None and Path(run_dir).exists() and Path(run_dir) != own_dir:
            raise ConfigError(f"{run_dir} already exists; a branch of {own_dir} needs a new "
                              "folder (or drop --run-dir to continue the run itself)")
        run_dir = own_dir if run_dir is None else run_dir
        saved = check_checkpoint(ckpt)
        start_step = int(saved["global_step"])
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(config)
    created = not run_dir.exists()
    t = config.trainer
    plan_cooldown(config, start_step)
    L.seed_everything(t.seed, workers=False, verbose=False)
    module = CentrifugeModule(
        config.model.name, dict(config.model.args), optim=vars(config.optim).copy(),
        loss=vars(config.loss).copy(), channels_last=t.channels_last,
        train_config=config.to_dict(), init=config.model.init if resume is None else None,
    )
    if ckpt is not None:
        check_weights_fit(ckpt, saved, module)
        del saved  # not kept through the run: Lightning reads the file for the weights
    if module.model.takes_audio and not config.data.audio:
        raise ConfigError(f"model {config.model.name} is controlled by sound: add "
                          "data.audio=true (batches then carry V¹'s spectrogram)")
    datamodule = BlendedDataModule(config.data, total_batches=t.max_steps * t.accumulate,
                                   accumulate=t.accumulate)
    # Missing data fails here, before Lightning's banner and before a run folder exists;
    # the real setup (which knows the world size) happens inside fit.
    datamodule.setup("fit")
    datamodule.train_set = datamodule.val_set = None
    trainer = build_trainer(config, run_dir, extra_callbacks, **trainer_kwargs)
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        precision, reason = trainer_precision(t)
        for logger in trainer.loggers:  # the precision this segment of the run used
            logger.log_hyperparams({"precision": precision, "precision_reason": reason})
        print(f"precision: {precision} ({reason})", flush=True)
    stopper = next(c for c in trainer.callbacks if isinstance(c, GracefulInterrupt))
    try:
        with warnings.catch_warnings():
            # frozen parts (train_only, a small model's prior) are in eval mode on purpose
            if config.optim.train_only or config.model.args.get("prior"):
                warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except BaseException as e:
        if type(e).__name__ == "SIGTERMException" and stopper.saved:
            raise TrainingInterrupted(stopper.checkpoint, trainer.global_step) from None
        if created and not any((run_dir / "checkpoints").glob("*.ckpt")):
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing to resume: leave no trace
        raise
    if stopper.saved:
        raise TrainingInterrupted(stopper.checkpoint, trainer.global_step)
    return run_dir
