"""Curriculum stages (data/curriculum.py): easy blends first, by step, resumable."""

from __future__ import annotations

import pytest
import torch

from centrifuge.config import load_config
from centrifuge.data.clips import ClipSampler
from centrifuge.data.curriculum import Curriculum, curriculum_pairs
from centrifuge.data.entries import folder_entries
from centrifuge.data.pairs import BlendConfig
from centrifuge.errors import ConfigError
from centrifuge.io import write_video

from conftest import moving_pattern


@pytest.fixture
def sampler(tmp_path):
    for i in range(3):
        write_video(tmp_path / f"v{i}.mp4", moving_pattern(20, 32, 40, seed=i, speed=3), fps=10)
    return ClipSampler(folder_entries(tmp_path), frames=6, crop=24, train=True)


def frozen_layers(item) -> int:
    """How many of an item's two layers do not change over time."""
    return sum(bool(torch.equal(v[:, 0], v[:, -1])) for v in (item["v1"], item["v2"]))


def test_stages_follow_the_step_and_end_in_the_final_blends(sampler):
    stages = [{"steps": 2, "frozen": 1}, {"steps": 1, "alpha": 0.25}]
    data = curriculum_pairs(sampler, 40, seed=3, blend=BlendConfig(alpha=0.5), stages=stages,
                            items_per_step=4)
    assert isinstance(data, Curriculum) and len(data) == 40
    # steps 0–1 (items 0–7): one layer frozen; step 2 (8–11): α = ¼; then the final α = ½
    assert [data.stage_of(i) for i in (0, 7, 8, 11, 12, 39)] == [0, 0, 1, 1, 2, 2]
    assert all(frozen_layers(data[i]) == 1 for i in (0, 5, 7))
    for i, alpha in ((8, 0.25), (11, 0.25), (12, 0.5), (30, 0.5)):
        item = data[i]
        assert frozen_layers(item) == 0
        assert float(item["alpha"].mean()) == pytest.approx(alpha)
    # deterministic per index: a resumed run sees the same items
    again = curriculum_pairs(sampler, 40, seed=3, blend=BlendConfig(alpha=0.5), stages=stages,
                             items_per_step=4)
    assert torch.equal(again[9]["mix"], data[9]["mix"])


def test_no_stages_is_the_plain_stream(sampler):
    data = curriculum_pairs(sampler, 8, seed=0, blend=BlendConfig(), stages=[],
                            items_per_step=4)
    assert not isinstance(data, Curriculum)


@pytest.mark.parametrize(("stages", "message"), [
    ("frozen", "data.curriculum must be of type list"),
    ([{"frozen": 1}], r"curriculum\[0\].steps must be a positive"),
    ([{"steps": 10, "froze": 1}], r"unknown keys \['froze'\]"),
    ([{"steps": 10, "frozen": 3}], r"curriculum\[0\]: frozen must be 0, 1 or 2"),
    ([{"steps": 5}, 7], r"curriculum\[1\] must be a mapping"),
])
def test_bad_curriculum_is_one_line(stages, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_config("tiny", [f"data.curriculum={stages!r}"] if not isinstance(stages, str)
                    else [f"data.curriculum={stages}"])
    assert "\n" not in str(e.value)
