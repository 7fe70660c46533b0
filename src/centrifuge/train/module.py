"""The LightningModule: a model, the PIT loss, the optimiser and its schedule.

Lightning owns devices, DDP, mixed precision, checkpoints and progress; this stays short.
Validation runs with BatchNorm's running statistics (``model.eval()``), as in the paper,
and logs the Identity baseline (both outputs = the blend) on the same batches, so every
validation line reads "model vs doing nothing".
"""

from __future__ import annotations

import math

import lightning as L
import torch

from centrifuge.config import OptimConfig
from centrifuge.data.pairs import stack_targets
from centrifuge.errors import ConfigError
from centrifuge.losses import LossWeights, centrifuge_loss, pit_loss
from centrifuge.models.registry import create_model


def lr_factor(step: int, cfg: OptimConfig) -> float:
    """Learning-rate multiplier at an optimiser step (relative to ``cfg.lr``)."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    if cfg.schedule == "constant":
        return warm
    if cfg.schedule == "step":
        value = cfg.lr
        for milestone, lr in zip(cfg.milestones, cfg.lr_values, strict=True):
            if step >= milestone:
                value = lr
        return warm * value / cfg.lr
    if cfg.schedule == "cosine":
        total = max(1, cfg.milestones[-1] if cfg.milestones else 1)
        return warm * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    raise ConfigError(f"optim.schedule must be step, cosine or constant, got {cfg.schedule!r}")


def initialise_from(model, source: str) -> None:
    """Copy the weights of a checkpoint or pretrained model into ``model`` (strict).

    The one difference allowed is fewer output layers: the output head's first ``3·n``
    channels are taken (e.g. a 2-layer model from a 4-layer one); every other weight must
    match in name and shape.
    """
    from centrifuge.errors import ModelLoadingError
    from centrifuge.inference import resolve_model

    other, name = resolve_model(source, torch.device("cpu"))
    if other.model_name != model.model_name:
        raise ModelLoadingError(f"model.init {source}: a {other.model_name}, not a "
                                f"{model.model_name}; initialise from the same architecture")
    own, theirs = model.state_dict(), other.state_dict()
    state = {}
    for key, value in theirs.items():
        mine = own.get(key)
        if (mine is not None and ".head." in f".{key}" and mine.shape != value.shape
                and mine.shape[1:] == value.shape[1:] and mine.shape[0] < value.shape[0]):
            value = value[: mine.shape[0]]
        state[key] = value
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelLoadingError(f"model.init {source}: weights do not fit "
                                f"({str(e).splitlines()[0][:160]})") from None


class CentrifugeModule(L.LightningModule):
    """Trains a registered layer model on :class:`BlendedPairs` batches.

    All constructor arguments are plain data (they are stored in the checkpoint).
    """

    def __init__(
        self,
        model_name: str,
        model_args: dict,
        optim: dict,
        loss: dict | None = None,
        channels_last: bool = True,
        train_config: dict | None = None,
        init: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        if init:
            # Every weight comes from `init`: do not read the Kinetics-400 file first
            # (a training bundle on another machine does not carry it), but keep the
            # record of how the encoder was first initialised.
            self.model = create_model(model_name, **{**model_args, "encoder_init": "scratch"})
            self.model.config.encoder_init = model_args.get("encoder_init", "scratch")
            initialise_from(self.model, init)
        else:
            self.model = create_model(model_name, **model_args)
        self.optim_cfg = OptimConfig(**optim)
        if self.optim_cfg.schedule == "step" and (
                len(self.optim_cfg.milestones) != len(self.optim_cfg.lr_values)):
            raise ConfigError("optim.milestones and optim.lr_values must have the same length")
        self.loss_weights = LossWeights(**(loss or {}))
        self.channels_last = channels_last
        if channels_last:
            self.model.to(memory_format=torch.channels_last_3d)

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            mix = mix.contiguous(memory_format=torch.channels_last_3d)
        return self.model(mix)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self(batch["mix"]).float()
        total, parts = centrifuge_loss(
            out, stack_targets(batch), batch["mix"], batch["alpha"], self.loss_weights
        )
        self.log("train/loss", parts["pit"], prog_bar=True, batch_size=len(out))
        with torch.no_grad():
            mix = batch["mix"]
            identity = pit_loss(torch.stack([mix, mix], 1), stack_targets(batch)).loss
        self.log("train/identity", identity, batch_size=len(out))
        for name in ("recomposition", "diversity"):
            if name in parts:
                self.log(f"train/{name}", parts[name], batch_size=len(out))
        return total

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        mix, targets = batch["mix"], stack_targets(batch)
        out = self(mix).float()
        b = len(mix)
        self.log("val/loss", pit_loss(out, targets).loss, prog_bar=True, sync_dist=True,
                 batch_size=b)
        identity = torch.stack([mix, mix], dim=1)
        self.log("val/identity", pit_loss(identity, targets).loss, sync_dist=True, batch_size=b)

    def on_validation_epoch_end(self) -> None:
        m = self.trainer.callback_metrics
        if "val/loss" in m and "val/identity" in m:
            self.log("val/ratio", m["val/loss"] / m["val/identity"], sync_dist=True)

    def configure_optimizers(self):
        cfg = self.optim_cfg
        encoder = [p for n, p in self.model.named_parameters() if ".encoder." in f".{n}"]
        ids = {id(p) for p in encoder}
        rest = [p for p in self.model.parameters() if id(p) not in ids]
        params = [{"params": rest}]
        if encoder:
            params.append({"params": encoder, "lr": cfg.lr * cfg.encoder_lr_scale})
        if cfg.name == "sgd":
            opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                  weight_decay=cfg.weight_decay)
        elif cfg.name == "adamw":
            opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            raise ConfigError(f"optim.name must be sgd or adamw, got {cfg.name!r}")
        lr_factor(0, cfg)  # validates the schedule before training starts
        # A plain function (not a callable object): LambdaLR then keeps it out of its
        # state_dict, so checkpoints stay loadable with weights_only=True.
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, cfg))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
