"""The DataModule: :class:`BlendedPairs` for training and validation.

Training data is one long, deterministic stream: batch ``s`` of rank ``r`` holds the
items ``(s·world + r)·B … (s·world + r)·B + B − 1``. :class:`StepSampler` starts that
stream at the number of batches already trained, so a run resumed from a checkpoint
continues with exactly the data it would have seen, and DDP ranks never share an item.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Callable

import lightning as L
from torch.utils.data import DataLoader, Sampler, Subset

from centrifuge.config import DataConfig
from centrifuge.data.clips import ClipSampler
from centrifuge.data.curriculum import curriculum_pairs
from centrifuge.data.entries import make_entries
from centrifuge.data.pairs import BlendConfig, BlendedPairs, MixedSource

VAL_SEED = 1_000_003  # in-run validation blends, whatever data.seed is


class StepSampler(Sampler[int]):
    """Indices of the training stream for one rank, from a given batch onwards.

    Args:
        batch_size: items per batch.
        total_batches: batches in the whole run (per rank).
        position: returns ``(batches_done, rank, world_size)`` when iteration starts.
    """

    def __init__(self, batch_size: int, total_batches: int,
                 position: Callable[[], tuple[int, int, int]]):
        self.batch_size = batch_size
        self.total_batches = total_batches
        self.position = position

    def __iter__(self):
        done, rank, world = self.position()
        b = self.batch_size
        for s in range(done, self.total_batches):
            first = (s * world + rank) * b
            yield from range(first, first + b)

    def __len__(self) -> int:
        done, _, _ = self.position()
        return max(0, self.total_batches - done) * self.batch_size


class BlendedDataModule(L.LightningDataModule):
    def __init__(self, data: DataConfig, total_batches: int, accumulate: int = 1):
        super().__init__()
        self.cfg = data
        self.total_batches = total_batches
        self.accumulate = accumulate
        self.train_set: BlendedPairs | None = None
        self.val_set: BlendedPairs | None = None
        self.synthetic_val_sets: dict[str, Subset] = {}

    def _sampler(self, source: str, root: str | None, split: str, train: bool) -> ClipSampler:
        c = self.cfg
        return ClipSampler(make_entries(source, root, split), frames=c.frames, stride=c.stride,
                           crop=c.size, scale=c.scale, train=train, cache=c.cache,
                           augment=c.augment, length_power=c.length_power if train else 0.0)

    def train_source(self):
        """Real clips, synthetic clips, or both (``data.source``)."""
        c = self.cfg
        if c.source not in ("synthetic", "mixed"):
            return self._sampler(c.source, c.root, "train", True)
        return make_source(c, self._sampler(c.real_source, c.root, "train", True)
                           if c.source == "mixed" else None)

    def setup(self, stage: str | None = None) -> None:
        c = self.cfg
        if self.train_set is None:
            world = self.trainer.world_size if self.trainer else 1
            length = self.total_batches * c.batch_size * world
            self.train_set = curriculum_pairs(
                self.train_source(), length, seed=c.seed, blend=self.cfg.blend_config(),
                stages=c.curriculum, items_per_step=c.batch_size * world * self.accumulate,
                audio=c.audio, audio_v2=c.audio_v2, sensor_noise=c.sensor_noise,
                match_colour=c.match_colour)
            # Validation is real video: the corpus val split unless told otherwise.
            real = c.source if c.source not in ("synthetic", "mixed") else c.real_source
            val_source = c.val_source or real
            val_root = c.val_root if (c.val_root or c.val_source) else c.root
            # A fixed seed of its own: never training items (data.seed is far from it),
            # and the same blends for every run, so their curves compare.
            self.val_set = BlendedPairs(
                self._sampler(val_source, val_root, "val", False), c.val_samples,
                seed=VAL_SEED, blend=self.cfg.blend_config(),
                audio=c.audio) if c.val_samples else None
            self.synthetic_val_sets = synthetic_val_sets(c) if c.val_synthetic else {}

    def _position(self) -> tuple[int, int, int]:
        t = self.trainer
        if t is None:
            return 0, 0, 1
        return t.global_step * self.accumulate, t.global_rank, t.world_size

    def train_dataloader(self) -> DataLoader:
        c = self.cfg
        sampler = StepSampler(c.batch_size, self.total_batches, self._position)
        return DataLoader(self.train_set, batch_size=c.batch_size, sampler=sampler,
                          num_workers=c.workers, persistent_workers=c.workers > 0,
                          drop_last=True, worker_init_fn=ignore_sigterm)

    @property
    def val_names(self) -> list[str]:
        """What each validation loader holds, in order: ``real`` (unless
        ``data.val_samples`` is 0), then each kind of held-out synthetic blend."""
        return val_names(self.cfg)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        c = self.cfg
        sets = [s for s in (self.val_set, *self.synthetic_val_sets.values()) if s is not None]
        loaders = [DataLoader(s, batch_size=c.val_batch_size or c.batch_size,
                              num_workers=min(c.workers, 1), worker_init_fn=ignore_sigterm)
                   for s in sets]
        return loaders if len(loaders) > 1 else loaders[0]


def ignore_sigterm(worker_id: int) -> None:
    """DataLoader workers leave SIGTERM to the trainer. A scheduler (or ``pkill -f``)
    signals the whole process group; a worker that died of it made the trainer raise
    "DataLoader worker killed" mid-step, before the checkpoint that SIGTERM exists to get
    (GracefulInterrupt). Workers still end with the trainer: PyTorch's watchdog stops
    them once their parent is gone."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


SYNTHETIC_VAL_SEED = 777_001  # benchmarks/learnability.py and curve.py use the same blends
SYNTHETIC_VAL_KINDS = {"transparent": BlendConfig(blend="transparent", alpha=0.5),
                       "occlusion": BlendConfig(blend="occlusion")}


SYNTHETIC_VAL_OFFSET = 10_000  # held-out items start here in that stream


def val_names(c: DataConfig) -> list[str]:
    """The validation loaders of a data config, in the order Lightning numbers them."""
    return (["real"] if c.val_samples else []) + (list(SYNTHETIC_VAL_KINDS)
                                                  if c.val_synthetic else [])


def monitored_metric(c: DataConfig) -> str:
    """The ratio that picks a run's best checkpoint: real val's, or without real
    validation (``data.val_samples: 0``) the held-out transparent blends'."""
    return "val/ratio" if c.val_samples else "val_synth_transparent/ratio"


def synthetic_val_sets(c: DataConfig) -> dict[str, Subset]:
    """Held-out procedural blends per kind (``data.val_synthetic`` of each) from the run's
    own generator (``data.synthetic``: the question is whether the model learns its own
    distribution), at a seed no training uses, synthetic clips only. The benchmarks
    (``learnability.py``, ``curve.py``) score the same blends."""
    source = make_source(dataclasses.replace(c, source="synthetic"), None)
    end = SYNTHETIC_VAL_OFFSET + c.val_synthetic
    return {kind: Subset(BlendedPairs(source, end, seed=SYNTHETIC_VAL_SEED, blend=blend),
                         range(SYNTHETIC_VAL_OFFSET, end))
            for kind, blend in SYNTHETIC_VAL_KINDS.items()}


def make_source(cfg: DataConfig, real: ClipSampler | None):
    """The synthetic clip source of ``cfg`` (mixed with ``real`` when given)."""
    from centrifuge.data.synthetic import SyntheticSampler
    from centrifuge.data.textures import shared_bank

    corpus_root = cfg.root if cfg.real_source == "corpus" else None
    bank = shared_bank(corpus_root, corpus=cfg.texture_corpus, path=cfg.textures,
                       frames_per_clip=cfg.texture_frames, stills=cfg.texture_stills)
    synthetic = SyntheticSampler(bank, frames=cfg.frames, crop=cfg.size, config=cfg.synthetic)
    if real is None:
        return synthetic
    return MixedSource(real, synthetic, cfg.synthetic_ratio)
