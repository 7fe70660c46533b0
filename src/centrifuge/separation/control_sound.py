"""The control signal at inference: which sound, cut per segment, and the chosen layer.

A C3 model (ICCV 2019 §3.2) sees each segment with the spectrogram of the sound played
during it (:func:`~centrifuge.io.audio.control_spectrogram`) and scores every output
layer; the lowest score is the layer that makes the sound. Over a whole video the
layers are kept in one order by :func:`~centrifuge.separation.inference.stitch`, the scores follow
them, and the layer picked is the one with the lowest frame-weighted mean score.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from centrifuge.errors import AudioError
from centrifuge.io.audio import (
    SAMPLE_RATE,
    audio_window,
    control_spectrogram,
    is_silent,
    read_audio,
)


def load_control_audio(source: str | os.PathLike | np.ndarray) -> np.ndarray:
    """Mono 16 kHz float32 from a file with sound or a waveform array."""
    if isinstance(source, np.ndarray | torch.Tensor):
        wave = np.asarray(source, dtype=np.float32)
        if wave.ndim != 1 or not len(wave):
            raise AudioError(f"audio must be a mono 16 kHz waveform (N,), got {wave.shape}")
        return wave
    path = Path(source)
    if not path.is_file():
        raise AudioError(f"--audio {path}: no such file; pass a video or audio file with sound")
    wave = read_audio(path, missing="none")
    if wave is None:
        raise AudioError(f"--audio {path}: has no audio stream; pass a file with sound")
    return wave


def warn_if_silent(wave: np.ndarray, what: str) -> None:
    if is_silent(wave):
        warnings.warn(f"{what}: the sound is silent, so the selected layer is a guess",
                      UserWarning, stacklevel=2)


def window(wave: np.ndarray, t0_s: float, t1_s: float) -> np.ndarray:
    """Samples of ``wave`` (starting at 0 s) between two times, zeros outside it."""
    n = max(1, int(round((t1_s - t0_s) * SAMPLE_RATE)))
    return audio_window(wave, int(round(t0_s * SAMPLE_RATE)), n)


def with_spectrograms(segments: Iterable[tuple[int, torch.Tensor]], wave: np.ndarray,
                      fps: float) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """``(first_frame, video)`` segments at ``fps`` → ``(first_frame, video, spectrogram)``."""
    for start, video in segments:
        t = video.shape[1]
        yield start, video, control_spectrogram(window(wave, start / fps, (start + t) / fps), t)


def spectrogram_at(wave: np.ndarray, times: np.ndarray, fps: float) -> torch.Tensor:
    """The control spectrogram of frames shown at ``times`` (seconds; VFR-safe)."""
    t0 = float(times[0])
    t1 = float(times[-1]) + 1 / fps
    return control_spectrogram(window(wave, t0, t1), len(times))


def mean_scores(scores: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
    """Frame-weighted mean of per-segment scores ``[(scores (n,), frames), …]`` → ``(n,)``."""
    total = sum(frames for _, frames in scores)
    return sum(s.float() * frames for s, frames in scores) / max(1, total)


def control_sound(separator, path: Path, info) -> np.ndarray | None:
    """The control waveform for separating ``path`` (None for models without control):
    the separator's ``audio``, else the video's own soundtrack."""
    if not separator.takes_audio:
        return None
    if separator.audio is not None:
        wave = separator.audio
    else:
        if not info.has_audio:
            raise AudioError(f"{path}: has no sound, and model {separator.method.name} picks "
                             "its layer by sound; pass --audio FILE with the sound to follow")
        wave = read_audio(path)
    warn_if_silent(wave, str(separator.audio_source or path))
    return wave


def choose_layer(scores: list, paths: list[Path], work: Path, fmt: str, separator,
                 wave: np.ndarray) -> dict:
    """Pick the layer of the sound, write ``selected.mp4`` (mp4 output) with that sound,
    and return the summary's ``control`` entry."""
    from centrifuge.io.writer import remux_with_sound

    mean = mean_scores(scores)
    k = int(mean.argmin())
    entry = {"audio": str(separator.audio_source) if separator.audio_source is not None
             else ("waveform" if separator.audio is not None else "own soundtrack"),
             "scores": [round(float(v), 5) for v in mean], "selected_output": k,
             "silent": is_silent(wave), "file": None}
    if fmt == "mp4":
        target = work / "selected.mp4"
        if separator.audio is None:  # the layer already carries the video's own sound
            shutil.copyfile(paths[k], target)
        else:
            remux_with_sound(paths[k], target, separator.audio_source or separator.audio)
        entry["file"] = target.name
    return entry
