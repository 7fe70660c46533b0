"""The LightningModule: a model, the PIT loss, the optimiser and its schedule.

Lightning owns devices, DDP, mixed precision, checkpoints and progress; this stays short.
Validation runs with BatchNorm's running statistics (``model.eval()``), as in the paper,
and logs the Identity baseline (both outputs = the blend) on the same batches, so every
validation line reads "model vs doing nothing".
"""

from __future__ import annotations

import math
import warnings

import lightning as L
import torch

from centrifuge.config import OptimConfig
from centrifuge.data.pairs import stack_targets
from centrifuge.errors import ConfigError
from centrifuge.evaluate import baselines
from centrifuge.evaluate.baselines import BASELINES, baseline_losses
from centrifuge.losses import (
    LossWeights,
    centrifuge_loss,
    control_chance,
    control_correct,
    control_regression_loss,
    deterministic_loss,
    edge_owner_loss,
    pairwise_loss,
    pit_loss,
)
from centrifuge.models.layers import channels_last_3d
from centrifuge.models.registry import create_model, restore_init_record, scratch_args
from centrifuge.train.datamodule import SYNTHETIC_VAL_KINDS


def lr_factor(step: int, cfg: OptimConfig) -> float:
    """Learning-rate multiplier at an optimiser step (relative to ``cfg.lr``)."""
    return _schedule_factor(step, cfg) * _cooldown_factor(step, cfg)


def _schedule_factor(step: int, cfg: OptimConfig) -> float:
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


def _cooldown_factor(step: int, cfg: OptimConfig) -> float:
    """1 before ``cooldown_start``, then linearly to 0 over ``cooldown_steps`` (the factor
    at the last step the run takes is 1/steps, not 0: no step is wasted at lr 0)."""
    steps = cfg.cooldown_steps
    if not steps:
        return 1.0
    start = cfg.cooldown_start or 0
    return min(1.0, max(0.0, (start + steps - step) / steps))


def initialise_from(model, source: str) -> dict:
    """Copy the weights of a checkpoint or pretrained model into ``model``; returns the
    source's checkpoint metadata (``{}`` for a model object without any).

    Same architecture: strict, except that the output head may have fewer layers (its
    first ``3·n`` channels are taken, e.g. a 2-layer model from a 4-layer one).

    A larger architecture that extends the source (C2/C3 from a Centrifuge of the same
    encoder and decoder, C3 from C2) takes every source weight it has under the same
    name; a weight grown along one of its first two dimensions (the decoder's first stage
    when C3 adds audio channels) gets the source in its leading part and zeros elsewhere, so
    the new inputs start with no effect; parts the source lacks (mask, β, audio and
    regressor heads) keep their initialisation — for C2/C3 uniform masks (no gating)
    and β near one-to-one, so the new model starts close to what the source computed.
    """
    from centrifuge.errors import ModelLoadingError
    from centrifuge.pretrained import resolve_model

    other, name = resolve_model(source, torch.device("cpu"))
    own, theirs = model.state_dict(), other.state_dict()
    same = other.model_name == model.model_name
    state = dict(own) if not same else {}
    problems = []
    for key, value in theirs.items():
        mine = own.get(key)
        if mine is None:
            problems.append(f"{key} is not in {model.model_name}")
            continue
        if mine.shape != value.shape:
            value = _fit(key, value, mine)
            if value is None:
                problems.append(f"{key} has shape {tuple(theirs[key].shape)}, "
                                f"not {tuple(mine.shape)}")
                continue
        state[key] = value
    if problems:
        raise ModelLoadingError(f"model.init {source}: a {other.model_name} does not fit a "
                                f"{model.model_name} ({len(problems)} weights, e.g. "
                                f"{problems[0]}); initialise from the same architecture")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelLoadingError(f"model.init {source}: weights do not fit "
                                f"({str(e).splitlines()[0][:160]})") from None
    return dict(getattr(other, "checkpoint_metadata", None) or {})


def repeated_stream(source: str, metadata: dict, train_config: dict | None) -> str | None:
    """A warning when a run continues a model on the very items that model trained on.

    Training items are seeded by ``(data.seed, index)`` and indices restart at 0, so a run
    initialised from a model trained with the same data source and seed replays its
    blends from the first one (centrifuge-cpu-v3 was a second pass over v2's 4000 blends
    this way). Returns the message, or None when the streams differ or are unknown.
    """
    before = (metadata.get("train_config") or {}).get("data") or {}
    now = (train_config or {}).get("data") or {}
    keys = ("source", "seed", "frames", "size")
    if not before or not now or any(before.get(k) != now.get(k) for k in keys):
        return None
    return (f"model.init {source} was trained on the same data stream (data.source "
            f"{now['source']}, data.seed {now['seed']}): this run repeats its blends from "
            f"the first one; set data.seed to a value not used before for new ones")


def _fit(key: str, value: torch.Tensor, mine: torch.Tensor) -> torch.Tensor | None:
    """``value`` reshaped to ``mine``'s shape as :func:`initialise_from` allows, else None."""
    if value.ndim != mine.ndim or mine.shape[2:] != value.shape[2:]:
        return None
    if ".head." in f".{key}" and mine.shape[1:] == value.shape[1:] and (
            mine.shape[0] < value.shape[0]):
        return value[: mine.shape[0]]
    grown = [a > b for a, b in zip(mine.shape, value.shape, strict=True)]
    if sum(grown) == 1 and all(a >= b for a, b in zip(mine.shape, value.shape, strict=True)):
        grown = torch.zeros_like(mine)
        grown[tuple(slice(0, s) for s in value.shape)] = value
        return grown
    return None


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
            self.model = create_model(model_name, **scratch_args(model_args))
            restore_init_record(self.model, model_args)
            warning = repeated_stream(init, initialise_from(self.model, init), train_config)
            if warning:
                warnings.warn(warning, stacklevel=2)
        else:
            self.model = create_model(model_name, **model_args)
        self.optim_cfg = OptimConfig(**optim)
        if self.optim_cfg.schedule == "step" and (
                len(self.optim_cfg.milestones) != len(self.optim_cfg.lr_values)):
            raise ConfigError("optim.milestones and optim.lr_values must have the same length")
        self._freeze_all_but(self.optim_cfg.train_only)
        self.loss_weights = LossWeights(**(loss or {}))
        if self.loss_weights.owners and getattr(self.model.config, "head", None) != "edges":
            raise ConfigError("loss.owners needs a model that predicts edge owners: "
                              "centrifuge_small with model.args.head=edges")
        self.channels_last = channels_last
        if channels_last:
            channels_last_3d(self.model)

    def _freeze_all_but(self, parts: list) -> None:
        """``optim.train_only``: only these top-level parts of the model train."""
        self._frozen: list = []
        if not parts:
            return
        names = dict(self.model.named_children())
        unknown = [p for p in parts if p not in names]
        if unknown:
            raise ConfigError(f"optim.train_only: {self.model.__class__.__name__} has no part "
                              f"{', '.join(map(repr, unknown))}; its parts: "
                              f"{', '.join(names)}")
        for name, child in names.items():
            child.requires_grad_(name in parts)
        self._frozen = [child for name, child in names.items() if name not in parts]
        self._freeze_statistics()

    def _freeze_statistics(self) -> None:
        """Frozen parts stay in eval mode: their BatchNorm statistics must not drift."""
        for child in self._frozen:
            child.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_statistics()
        return self

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # Lightning 2.6 neither calls train() at fit start nor after validation (it sets
        # each submodule's flag back as it found it), so the override alone is not enough.
        self._freeze_statistics()

    def forward(self, mix: torch.Tensor, audio: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_dict(mix, audio)["outputs"]

    def forward_dict(self, mix: torch.Tensor, audio: torch.Tensor | None = None) -> dict:
        if self.channels_last:
            mix = mix.contiguous(memory_format=torch.channels_last_3d)
        if not self.model.takes_audio and not self.loss_weights.owners:
            return {"outputs": self.model(mix)}
        return self.model.forward_dict(mix, audio)

    @property
    def control(self) -> str | None:
        """``internal``/``deterministic`` for C3 models, None for the rest."""
        return getattr(self.model.config, "control", None)

    def _audio(self, batch: dict) -> torch.Tensor | None:
        if not self.model.takes_audio:
            return None
        if "audio" not in batch:
            raise ConfigError(f"model {self.model.model_name} is controlled by sound: set "
                              "data.audio=true so batches carry V¹'s spectrogram")
        return batch["audio"]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        result = self.forward_dict(batch["mix"], self._audio(batch))
        out = result["outputs"].float()
        targets = stack_targets(batch)
        b = len(out)
        if self.control == "deterministic":
            total = deterministic_loss(out, targets).mean()
            self.log("train/loss", total.detach(), prog_bar=True, batch_size=b)
        else:
            total, parts = centrifuge_loss(out, targets, batch["mix"], batch["alpha"],
                                           self.loss_weights)
            self.log("train/loss", parts["pit"], prog_bar=True, batch_size=b)
            for name in ("recomposition", "diversity"):
                if name in parts:
                    self.log(f"train/{name}", parts[name], batch_size=b)
        if self.loss_weights.owners:
            # the owners of a transparent blend's edges; an occluded layer's edges are
            # not in the blend at all, so occlusion items do not count
            alpha = batch["alpha"].flatten(1)
            clear = (alpha.amax(1) - alpha.amin(1)) < 1e-6
            if clear.any():
                own = edge_owner_loss(result["owners"][clear], batch["mix"][clear],
                                      targets[clear])
                total = total + self.loss_weights.owners * own
                self.log("train/owners", own.detach(), batch_size=int(clear.sum()))
        if self.control == "internal":
            reg = control_regression_loss(result["scores"], out, batch["v1"],
                                          self.loss_weights.control_centred).mean()
            total = total + self.loss_weights.control * reg
            self.log("train/control", reg.detach(), batch_size=b)
        with torch.no_grad():
            mix = batch["mix"]
            identity = pit_loss(baselines.identity(mix), targets).loss
        self.log("train/identity", identity, batch_size=b)
        return total

    def _val_kind(self, dataloader_idx: int) -> str:
        """``real`` or a kind of held-out synthetic blend (``data.val_synthetic``); without
        real validation (``data.val_samples: 0``) the synthetic loaders come first."""
        datamodule = getattr(self._trainer, "datamodule", None)
        names = getattr(datamodule, "val_names", None) or ["real", *SYNTHETIC_VAL_KINDS]
        return names[dataloader_idx]

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        kind = self._val_kind(dataloader_idx)
        if kind != "real":
            return self._synthetic_validation_step(batch, kind)
        mix, targets = batch["mix"], stack_targets(batch)
        result = self.forward_dict(mix, self._audio(batch))
        out = result["outputs"].float()
        b = len(mix)
        self.log("val/loss", pit_loss(out, targets).loss, prog_bar=True, sync_dist=True,
                 batch_size=b, add_dataloader_idx=False)
        self.log("val/identity", pit_loss(baselines.identity(mix), targets).loss, sync_dist=True,
                 batch_size=b, add_dataloader_idx=False)
        if self.control:
            desired = pairwise_loss(batch["v1"][:, None], out)[:, 0]
            chosen = result["scores"].argmin(-1)
            self.log("val/control_acc", control_correct(desired, chosen).float().mean(),
                     prog_bar=True, sync_dist=True, batch_size=b, add_dataloader_idx=False)
            self.log("val/control_chance", control_chance(desired).mean(), sync_dist=True,
                     batch_size=b, add_dataloader_idx=False)

    def _synthetic_validation_step(self, batch: dict, kind: str) -> None:
        mix, targets = batch["mix"], stack_targets(batch)
        out = self.forward_dict(mix, self._audio(batch))["outputs"].float()
        b = len(mix)
        self.log(f"val_synth_{kind}/loss", pit_loss(out, targets).loss, sync_dist=True,
                 batch_size=b, add_dataloader_idx=False)
        for name, value in baseline_losses(mix, targets).items():
            self.log(f"val_synth_{kind}/{name.replace(' ', '_')}", value.mean(),
                     sync_dist=True, batch_size=b, add_dataloader_idx=False)
        if kind == "transparent" and not self.control:
            # the same blends without their motion: does the model separate by motion?
            still, still_targets = baselines.without_motion(mix), baselines.without_motion(targets)
            out = self.forward_dict(still, None)["outputs"].float()
            self.log(f"val_synth_{kind}/still_loss", pit_loss(out, still_targets).loss,
                     sync_dist=True, batch_size=b, add_dataloader_idx=False)
            self.log(f"val_synth_{kind}/still_identity",
                     pit_loss(baselines.identity(still), still_targets).loss, sync_dist=True,
                     batch_size=b, add_dataloader_idx=False)

    def on_validation_epoch_end(self) -> None:
        m = self.trainer.callback_metrics
        if "val/loss" in m and "val/identity" in m:
            self.log("val/ratio", m["val/loss"] / m["val/identity"], sync_dist=True)
        for kind in SYNTHETIC_VAL_KINDS:
            key = f"val_synth_{kind}"
            if f"{key}/loss" in m:
                ident = m[f"{key}/identity"]
                trivial = min(m[f"{key}/{n.replace(' ', '_')}"] for n in BASELINES)
                self.log(f"{key}/ratio", m[f"{key}/loss"] / ident, sync_dist=True)
                self.log(f"{key}/vs_trivial", m[f"{key}/loss"] / trivial, sync_dist=True)
                if f"{key}/still_loss" in m:  # above ratio: motion helps the model
                    self.log(f"{key}/still_ratio",
                             m[f"{key}/still_loss"] / m[f"{key}/still_identity"], sync_dist=True)

    def configure_optimizers(self):
        cfg = self.optim_cfg
        trained = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        encoder = [p for n, p in trained if ".encoder." in f".{n}"]
        rest = [p for n, p in trained if ".encoder." not in f".{n}"]
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
