"""The DataModule: :class:`BlendedPairs` for training and validation.

Training data is one long, deterministic stream: batch ``s`` of rank ``r`` holds the
items ``(s·world + r)·B … (s·world + r)·B + B − 1``. :class:`StepSampler` starts that
stream at the number of batches already trained, so a run resumed from a checkpoint
continues with exactly the data it would have seen, and DDP ranks never share an item.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
from torch.utils.data import DataLoader, Sampler

from centrifuge.config import DataConfig
from centrifuge.data.datasets import BlendConfig, BlendedPairs, ClipSampler, make_entries


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

    def _blend(self) -> BlendConfig:
        c = self.cfg
        return BlendConfig(blend=c.blend, alpha=c.alpha, superpixels=c.superpixels,
                           frozen=c.frozen)

    def _sampler(self, source: str, root: str | None, split: str, train: bool) -> ClipSampler:
        c = self.cfg
        return ClipSampler(make_entries(source, root, split), frames=c.frames, stride=c.stride,
                           crop=c.size, scale=c.scale, train=train, cache=c.cache,
                           zoom=tuple(c.zoom) if c.zoom else None, color_jitter=c.color_jitter,
                           channel_shuffle=c.channel_shuffle, time_reverse=c.time_reverse,
                           rotate=c.rotate, length_power=c.length_power if train else 0.0)

    def setup(self, stage: str | None = None) -> None:
        c = self.cfg
        if self.train_set is None:
            world = self.trainer.world_size if self.trainer else 1
            length = self.total_batches * c.batch_size * world
            self.train_set = BlendedPairs(
                self._sampler(c.source, c.root, "train", True), length,
                seed=c.seed, blend=self._blend(), audio=c.audio)
            val_source = c.val_source or c.source
            val_root = c.val_root if (c.val_root or c.val_source) else c.root
            # The validation stream uses its own seed: never the training items.
            self.val_set = BlendedPairs(
                self._sampler(val_source, val_root, "val", False), c.val_samples,
                seed=c.seed + 1_000_003, blend=self._blend(), audio=c.audio)

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
                          drop_last=True)

    def val_dataloader(self) -> DataLoader:
        c = self.cfg
        return DataLoader(self.val_set, batch_size=c.val_batch_size or c.batch_size,
                          num_workers=min(c.workers, 1))
