"""Easy blends first: a training stream whose blend settings change by step.

A small network on a CPU sees a few thousand blends an hour; the hardest case (both
layers moving, α = ½) gives it almost no gradient towards separating at the start. A
curriculum (``data.curriculum`` in the training config) trains first on blends where
the layers are easier to tell apart — one layer frozen, asymmetric α — then on the
target distribution.

Items stay deterministic per index (the stream of :class:`BlendedPairs`): a stage
covers a range of item indices, ``steps × batch × world × accumulate`` long, so a run
resumed mid-curriculum continues in the right stage.
"""

from __future__ import annotations

import dataclasses

from torch.utils.data import Dataset

from centrifuge.data.pairs import BlendConfig, BlendedPairs
from centrifuge.errors import ConfigError

STAGE_FIELDS = ("blend", "alpha", "reflection", "occlusion", "frozen")


def stage_config(stage: dict, base: BlendConfig) -> BlendConfig:
    """The blend settings of one curriculum stage: ``base`` with the stage's fields."""
    changes = {k: v for k, v in stage.items() if k != "steps"}
    return dataclasses.replace(base, **changes)


def check_curriculum(stages, base: BlendConfig) -> None:
    """One clear line for a malformed ``data.curriculum``."""
    if not isinstance(stages, list):
        raise ConfigError(f"data.curriculum must be a list of stages, got {stages!r}")
    for i, stage in enumerate(stages):
        where = f"data.curriculum[{i}]"
        if not isinstance(stage, dict):
            raise ConfigError(f"{where} must be a mapping like {{steps: 500, frozen: 1}}, "
                              f"got {stage!r}")
        steps = stage.get("steps")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ConfigError(f"{where}.steps must be a positive whole number, got {steps!r}")
        unknown = set(stage) - {"steps", *STAGE_FIELDS}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; a stage sets steps "
                              f"and any of {', '.join(STAGE_FIELDS)}")
        try:
            stage_config(stage, base)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None


class Curriculum(Dataset):
    """Items of ``stages[k]`` below its end index, then of ``final``.

    Args:
        stages: ``(end_index, dataset)`` in order, end indices increasing.
        final: the dataset for every later index (its length is the stream's).
    """

    def __init__(self, stages: list[tuple[int, Dataset]], final: Dataset):
        ends = [end for end, _ in stages]
        if ends != sorted(ends):
            raise ValueError(f"stage ends must increase, got {ends}")
        self.stages, self.final = stages, final

    def __len__(self) -> int:
        return len(self.final)

    def stage_of(self, index: int) -> int:
        """0-based stage of an item; ``len(stages)`` for the final distribution."""
        for k, (end, _) in enumerate(self.stages):
            if index < end:
                return k
        return len(self.stages)

    def __getitem__(self, index: int) -> dict:
        k = self.stage_of(index)
        return (self.stages[k][1] if k < len(self.stages) else self.final)[index]


def curriculum_pairs(sampler, length: int, *, seed: int, blend: BlendConfig, stages: list,
                     items_per_step: int, **kwargs) -> Dataset:
    """:class:`BlendedPairs` for the final distribution, wrapped in a :class:`Curriculum`
    when ``stages`` (``data.curriculum``) is not empty."""
    final = BlendedPairs(sampler, length, seed=seed, blend=blend, **kwargs)
    if not stages:
        return final
    parts, end = [], 0
    for stage in stages:
        end += stage["steps"] * items_per_step
        parts.append((end, BlendedPairs(sampler, length, seed=seed,
                                        blend=stage_config(stage, blend), **kwargs)))
    return Curriculum(parts, final)
