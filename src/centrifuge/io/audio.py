"""Audio: mono float waveforms at a fixed rate and clip-aligned log-spectrograms.

The control signal of C3 (ICCV 2019, §3.2) is the log-spectrogram of the audio that
plays during a clip, treated as an image. Its parameters are fixed here so that every
part of the project (datasets, models, inference) agrees on them:

* waveform: mono (channels averaged), float32 in [-1, 1], resampled to 16 kHz;
* STFT (``torch.stft``): 512-point FFT, 320-sample (20 ms) periodic Hann window,
  160-sample (10 ms) hop, ``center=True`` with zero padding, giving 257 frequency bins
  and 100 spectrogram frames per second (plus one);
* value: ``log(|STFT| + 1e-6)``.

A clip of ``T`` frames at ``fps`` starting at frame ``s`` is aligned with the audio
window ``[s / fps, (s + T) / fps)``; missing samples (audio shorter than the video) are
zeros, so the spectrogram always has ``floor(T / fps * 100) + 1`` frames.

Shape:
    waveform ``(N,)``; spectrogram ``(257, S)``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from centrifuge.errors import AudioError
from centrifuge.io.media import decode_tolerantly, open_input, short_error, start_time
from centrifuge.io.pyav import av

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LENGTH = 320
HOP_LENGTH = 160
N_BINS = N_FFT // 2 + 1
LOG_FLOOR = 1e-6
# RMS below which a soundtrack counts as silent (−80 dBFS): it carries no control signal.
SILENCE_RMS = 1e-4
# Spectrogram frames per video frame in training batches and at inference: clips of any
# frame rate then give spectrograms of one length (C3 resamples to its own T anyway).
SPEC_FRAMES_PER_FRAME = 4

__all__ = [
    "AudioStream",
    "AudioWarning",
    "HOP_LENGTH",
    "N_BINS",
    "N_FFT",
    "SAMPLE_RATE",
    "SILENCE_RMS",
    "SPEC_FRAMES_PER_FRAME",
    "audio_window",
    "WIN_LENGTH",
    "clip_log_spectrogram",
    "control_spectrogram",
    "is_silent",
    "log_spectrogram",
    "resample_spectrogram",
    "read_audio",
]


def read_audio(
    path: str | os.PathLike,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    rate: int = SAMPLE_RATE,
    mono: bool = True,
    missing: str = "raise",
) -> np.ndarray | None:
    """Decode the first audio stream of ``path``, resampled to ``rate``.

    Args:
        start_s / duration_s: the window to return (None: to the end).
        mono: average the channels (shape ``(N,)``); else keep up to 2 channels
            (shape ``(C, N)``).
        missing: ``"raise"`` an :class:`AudioError` when the file has no audio stream,
            or ``"none"`` to return None.
    """
    with open_input(path) as c:
        if not c.streams.audio:
            if missing == "none":
                return None
            raise AudioError(
                f"{path}: has no audio stream; pass a video with sound or run without audio"
            )
        stream = c.streams.audio[0]
        channels = 1 if mono else min(2, stream.channels or 1)
        layout = "mono" if channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        t0 = start_time(stream)
        if start_s > 0:
            try:
                c.seek(int((start_s + t0) / stream.time_base), stream=stream, backward=True)
            except av.error.FFmpegError:
                c.seek(0, stream=stream)
        chunks, first_t = [], None
        want = None if duration_s is None else int(round(duration_s * rate))
        got = 0
        try:
            for frame in _decode_audio(c, stream):
                if first_t is None:
                    first_t = (frame.time - t0) if frame.time is not None else 0.0
                for rf in resampler.resample(frame):
                    arr = rf.to_ndarray()
                    chunks.append(arr)
                    got += arr.shape[1]
                if want is not None and got >= want + max(0.0, start_s - first_t) * rate + 1024:
                    break  # enough decoded to cover the window; skip the rest of the file
            for rf in resampler.resample(None):
                chunks.append(rf.to_ndarray())
        except av.error.FFmpegError as e:
            raise AudioError(f"{path}: audio could not be decoded ({short_error(e)})") from None
    wave = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    # Align: the first decoded frame may start before (after a seek) or after start_s.
    offset = int(round(((first_t or 0.0) - start_s) * rate)) if start_s > 0 else 0
    if offset < 0:
        wave = wave[:, -offset:]
    elif offset > 0:
        wave = np.pad(wave, ((0, 0), (offset, 0)))
    if want is not None:
        wave = wave[:, :want]
        if wave.shape[1] < want:
            wave = np.pad(wave, ((0, 0), (0, want - wave.shape[1])))
    wave = np.clip(wave.astype(np.float32, copy=False), -1.0, 1.0)
    return wave[0] if mono else wave


class AudioWarning(UserWarning):
    """The sound of a file is damaged or cut; the video is still processed."""


# Rates AAC encodes; any other input rate is resampled to 48 kHz.
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


class AudioStream:
    """A file's first audio stream decoded in order, a piece at a time: memory holds one
    piece whatever the length of the file (``read_audio`` holds it all).

    Damaged packets are skipped and a stream that stops early (a cut or broken track)
    just ends; either way one :class:`AudioWarning` says so and the sound returned so
    far stays valid.

    Args:
        rate: output sample rate (None: the file's own, if AAC can store it, else 48 kHz).
        channels: 1 or 2 (None: the file's, at most 2).

    Example:
        >>> sound = AudioStream("clip.mp4")               # doctest: +SKIP
        >>> piece = sound.read_until(1.5)   # (C, n): the samples up to 1.5 s
    """

    def __init__(self, path: str | os.PathLike, *, rate: int | None = None,
                 channels: int | None = None):
        self.path = path
        self._container = open_input(path)
        if not self._container.streams.audio:
            self._container.close()
            raise AudioError(f"{path}: has no audio stream")
        stream = self._container.streams.audio[0]
        native = int(stream.rate or 0)
        self.rate = rate or (native if native in AAC_RATES else 48000)
        self.channels = channels or min(2, stream.channels or 1)
        layout = "mono" if self.channels == 1 else "stereo"
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.rate)
        self._stream = stream
        self._t0 = start_time(stream)
        self._frames = self._decode()
        self._pending = np.zeros((self.channels, 0), np.float32)
        self._position = 0  # samples handed out so far
        self.warning: str | None = None

    def _decode(self):
        started = False
        for frame in decode_tolerantly(self._container, self._stream, self._on_error):
            if not started:
                started = True
                lead = (frame.time - self._t0) if frame.time is not None else 0.0
                if lead > 0:  # the sound starts late: keep it in sync with silence
                    yield np.zeros((self.channels, int(round(lead * self.rate))), np.float32)
            for rf in self._resampler.resample(frame):
                yield rf.to_ndarray()
        try:
            for rf in self._resampler.resample(None):
                yield rf.to_ndarray()
        except av.error.FFmpegError:
            pass

    def _on_error(self, error, gave_up) -> None:
        if gave_up:  # a run of errors: the rest of the track is gone
            self._warn(f"audio damaged after {self._seconds():.1f} s ({short_error(error)})")

    def _seconds(self) -> float:
        return (self._position + self._pending.shape[1]) / self.rate

    def _warn(self, text: str) -> None:
        if self.warning is None:
            self.warning = f"{self.path}: {text}; the layers keep the sound up to there"
            warnings.warn(self.warning, AudioWarning, stacklevel=3)

    def read_until(self, t_s: float) -> np.ndarray:
        """The samples from where the last call stopped up to ``t_s`` seconds, ``(C, n)``
        float32 in [-1, 1]; fewer (possibly none) once the track has ended."""
        want = int(round(t_s * self.rate)) - self._position
        pieces = [self._pending]
        have = self._pending.shape[1]
        while have < want and self._frames is not None:
            try:
                piece = next(self._frames)
            except StopIteration:
                self._frames = None
                self.close()
                break
            pieces.append(piece)
            have += piece.shape[1]
        data = np.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
        out, self._pending = data[:, : max(want, 0)], data[:, max(want, 0) :]
        self._position += out.shape[1]
        return np.clip(out, -1.0, 1.0)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def _decode_audio(container, stream):
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.FFmpegError:
            continue  # a damaged audio packet costs a few ms of sound, not the clip


def log_spectrogram(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Log-magnitude STFT of a mono 16 kHz waveform (parameters in the module docstring).

    Shape:
        ``(N,)`` or ``(B, N)`` → ``(257, S)`` or ``(B, 257, S)`` with ``S = N // 160 + 1``.
    """
    x = torch.as_tensor(wave, dtype=torch.float32)
    window = torch.hann_window(WIN_LENGTH, periodic=True, device=x.device)
    spec = torch.stft(
        x,
        n_fft=N_FFT,
        hop_length=HOP_LENGTH,
        win_length=WIN_LENGTH,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return torch.log(spec.abs() + LOG_FLOOR)


def clip_log_spectrogram(
    audio: np.ndarray | None, start_frame: int, num_frames: int, fps: float, *, audio_start_s=0.0
) -> torch.Tensor:
    """Log-spectrogram of the audio window aligned with frames ``[start, start + T)``.

    Args:
        audio: mono 16 kHz waveform that begins at ``audio_start_s`` seconds of the video.
        start_frame / num_frames / fps: the clip.

    Shape:
        ``(257, floor(num_frames / fps * 100) + 1)``.
    """
    if audio is None:
        raise AudioError("no audio for this clip; the control signal needs a video with sound")
    n = int(round(num_frames / fps * SAMPLE_RATE))
    n -= n % HOP_LENGTH
    first = int(round((start_frame / fps - audio_start_s) * SAMPLE_RATE))
    return log_spectrogram(audio_window(audio, first, n))


def audio_window(wave: np.ndarray, first: int, n: int) -> np.ndarray:
    """Samples ``[first, first + n)`` of ``wave``, zeros where the window leaves it
    (before its start or after its end)."""
    out = np.zeros(n, np.float32)
    lo, hi = max(first, 0), min(first + n, len(wave))
    if hi > lo:
        out[lo - first : hi - first] = wave[lo:hi]
    return out


def is_silent(wave: np.ndarray) -> bool:
    """Whether a waveform is empty or below :data:`SILENCE_RMS` (no control signal)."""
    return not len(wave) or float(np.sqrt(np.mean(np.square(wave)))) < SILENCE_RMS


def resample_spectrogram(spec: torch.Tensor, frames: int) -> torch.Tensor:
    """A spectrogram ``(257, S)`` (or ``(B, 257, S)``) stretched in time to ``frames``
    (linear interpolation; frequency untouched)."""
    x = spec[None] if spec.ndim == 2 else spec
    out = torch.nn.functional.interpolate(x.float(), size=frames, mode="linear",
                                          align_corners=False)
    return out[0] if spec.ndim == 2 else out


def control_spectrogram(wave: np.ndarray | None, num_frames: int) -> torch.Tensor:
    """The control signal of a clip of ``num_frames`` frames whose sound is ``wave``
    (mono 16 kHz covering exactly the clip): ``(257, SPEC_FRAMES_PER_FRAME · T)``."""
    if wave is None:
        raise AudioError("no audio for this clip; the control signal needs a video with sound")
    return resample_spectrogram(log_spectrogram(wave), SPEC_FRAMES_PER_FRAME * num_frames)
