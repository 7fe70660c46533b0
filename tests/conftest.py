"""Shared fixtures: tiny real videos written with PyAV in ``tmp_path`` (never in the CWD)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from centrifuge.io import write_video


def moving_pattern(t: int, h: int, w: int, *, seed: int = 0, speed: float = 2.0) -> np.ndarray:
    """Smooth coloured stripes drifting over ``t`` frames: ``(T, H, W, 3)`` uint8.

    Smooth content survives H.264 almost exactly, so round trips can be checked tightly;
    the drift gives the clips real motion.
    """
    rng = np.random.default_rng(seed)
    fx, fy = rng.uniform(0.03, 0.12, size=2)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(t):
        chans = [
            0.5 + 0.4 * np.sin(fx * (xx + speed * i * (c + 1)) + fy * yy + phase[c])
            for c in range(3)
        ]
        frames.append(np.stack(chans, -1))
    return (np.stack(frames) * 255).round().astype(np.uint8)


def tone(seconds: float, freq: float = 440.0, rate: int = 16000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def make_video(tmp_path):
    """Factory: ``make_video(name, t=16, h=32, w=48, fps=8, audio=False, seed=0) -> Path``."""

    def make(name="clip.mp4", *, t=16, h=32, w=48, fps=8.0, audio=False, seed=0, frames=None):
        frames = moving_pattern(t, h, w, seed=seed) if frames is None else frames
        sound = tone(len(frames) / fps, freq=300 + 100 * seed) if audio else None
        return write_video(tmp_path / name, frames, fps, audio=sound)

    return make


@pytest.fixture
def tiny_video(make_video) -> Path:
    return make_video()


@pytest.fixture(scope="session")
def real_corpus():
    """The real sample corpus in $CENTRIFUGE_HOME (or ~/.cache/centrifuge), built once per
    session when a new machine has none: tests that need it do not depend on their order."""
    from centrifuge.data.corpus import ensure

    return ensure(log=lambda line: None)


@pytest.fixture(autouse=True)
def _corpus_for_marked_tests(request):
    """Every ``@pytest.mark.corpus`` test gets :func:`real_corpus` first."""
    if request.node.get_closest_marker("corpus"):
        request.getfixturevalue("real_corpus")
