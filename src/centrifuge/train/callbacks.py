"""Callbacks that make training killable and its result usable.

* :class:`GracefulInterrupt` — Ctrl-C (SIGINT) no longer kills a step half-way: it is
  noted, the current step finishes, a checkpoint is saved and the trainer is asked to
  stop (``trainer.should_stop``). SIGTERM (a cluster pre-empting the job) goes through
  Lightning's own handler, which raises after the step; the checkpoint is then saved
  from ``on_exception``. A second Ctrl-C interrupts at once (Lightning exits).
* :class:`ExportWeights` — writes the model as safetensors (plain data, with its
  config) beside the Lightning checkpoints: ``last.safetensors`` and, from the best
  validation checkpoint, ``model.safetensors``.
* :class:`StepProgressBar` — Lightning's bar, with this segment's rate and time left
  after a resume.
* :class:`TimeLimit` — ``trainer.max_minutes``: this segment stops after so many minutes
  (then validates, checkpoints and exports as at ``max_steps``).
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar

from centrifuge.models.checkpoint import load_model, save_model

log = logging.getLogger("centrifuge.train")


class GracefulInterrupt(Callback):
    def __init__(self, checkpoint: Path):
        self.checkpoint = Path(checkpoint)
        self.requested = False
        self.saved = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True
        log.warning("interrupt received: finishing this step, then saving %s", self.checkpoint)

    def on_train_start(self, trainer, pl_module):
        self._previous = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: keep the default behaviour
            self._previous = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.requested and not self.saved:
            self._save(trainer)
            trainer.should_stop = True

    def on_exception(self, trainer, pl_module, exception):
        if not self.saved and trainer.global_step > 0 and not isinstance(exception, MemoryError):
            if isinstance(exception, KeyboardInterrupt) or type(exception).__name__ == (
                    "SIGTERMException"):
                self._save(trainer)
        self._restore()

    def on_train_end(self, trainer, pl_module):
        self._restore()

    def _save(self, trainer) -> None:
        trainer.save_checkpoint(self.checkpoint)
        self.saved = True
        if trainer.is_global_zero:
            print(f"\nsaved {self.checkpoint} at step {trainer.global_step}; "
                  f"continue with: centrifuge train --resume {self.checkpoint}", flush=True)

    def _restore(self):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class TimeLimit(Callback):
    """Stop this segment of a run after ``minutes`` of training.

    Lightning's own ``max_time`` counts every segment since the run began (its timer
    travels in the checkpoint), so a resumed run would stop before its first step; a
    campaign resumed on a lent machine for N minutes needs N minutes per segment."""

    def __init__(self, minutes: float):
        self.seconds = 60.0 * minutes
        self.start: float | None = None

    def on_train_start(self, trainer, pl_module):
        self.start = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        late = self.start is not None and time.monotonic() - self.start >= self.seconds
        # every rank stops at the same step (rank 0's clock decides), or DDP hangs
        if trainer.strategy.broadcast(late) and not trainer.should_stop:
            trainer.should_stop = True
            if trainer.is_global_zero:
                print(f"\ntrainer.max_minutes={self.seconds / 60:g} reached at step "
                      f"{trainer.global_step}: stopping this segment", flush=True)


class ExportWeights(Callback):
    def __init__(self, run_dir: Path, train_config: dict):
        self.run_dir = Path(run_dir)
        self.train_config = train_config

    def export(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith(("val/", "val_synth_"))}
        metrics["step"] = trainer.global_step
        save_model(self.run_dir / "last.safetensors", pl_module.model,
                   train_config=self.train_config, metrics=metrics)
        best = getattr(trainer.checkpoint_callback, "best_model_path", "")
        if best and Path(best).is_file():
            model = load_model(best)
            score = trainer.checkpoint_callback.best_model_score
            monitor = trainer.checkpoint_callback.monitor
            best_metrics = {monitor: float(score)} if score is not None else {}
            save_model(self.run_dir / "model.safetensors", model,
                       train_config=self.train_config, metrics=best_metrics)
        else:
            save_model(self.run_dir / "model.safetensors", pl_module.model,
                       train_config=self.train_config, metrics=metrics)

    def on_train_end(self, trainer, pl_module):
        self.export(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception):
        if trainer.global_step > 0:
            self.export(trainer, pl_module)


class StepProgressBar(TQDMProgressBar):
    """After a resume the stock bar counts from batch 0: its first update jumps to the
    resumed step, so the rate is every earlier step over this segment's seconds (105 it/s
    at step 2082 for a 0.5 it/s run) and the time left is nonsense. This bar starts
    counting at the resumed batch, and says where it resumed."""

    def on_train_epoch_start(self, trainer, *args):
        if self.train_progress_bar is not None:  # a new epoch counts from 0 again
            self.train_progress_bar.initial = 0
        super().on_train_epoch_start(trainer, *args)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        bar = self.train_progress_bar
        if bar is not None and bar.n == 0 and bar.initial == 0 and batch_idx > 0:
            bar.initial = bar.n = bar.last_print_n = batch_idx
            if bar.total is None and self.total_train_batches not in (None, float("inf")):
                bar.total = int(self.total_train_batches)
            bar.set_description(f"Epoch {trainer.current_epoch} (resumed at {batch_idx})")
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
