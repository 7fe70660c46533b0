import numpy as np
import pytest

from centrifuge.errors import AudioError
from centrifuge.io import clip_log_spectrogram, log_spectrogram, read_audio, write_video
from centrifuge.io.audio import N_BINS, SAMPLE_RATE

from conftest import moving_pattern, tone


def test_log_spectrogram_shape_and_peak_bin():
    spec = log_spectrogram(tone(1.0, freq=1000))
    assert spec.shape == (N_BINS, SAMPLE_RATE // 160 + 1)
    peak_bin = int(spec[:, 10:-10].mean(1).argmax())
    assert peak_bin == round(1000 / (SAMPLE_RATE / 512))  # bin width 31.25 Hz


def test_read_audio_window_and_missing_audio(make_video):
    with_sound = make_video("a.mp4", t=30, fps=10, audio=True)
    part = read_audio(with_sound, start_s=1.0, duration_s=1.5)
    assert part.shape == (24000,) and part.dtype == np.float32
    assert np.abs(part).max() > 0.1
    silent = make_video("b.mp4")
    assert read_audio(silent, missing="none") is None
    with pytest.raises(AudioError, match="no audio stream"):
        read_audio(silent)


def test_clip_spectrogram_is_aligned_with_the_clip_frames(tmp_path):
    # 4 s of silence with a 1 kHz burst during [2.0, 3.0) s; video at 10 fps.
    wave = np.zeros(4 * SAMPLE_RATE, np.float32)
    wave[2 * SAMPLE_RATE : 3 * SAMPLE_RATE] = tone(1.0, freq=1000)
    write_video(tmp_path / "burst.mp4", moving_pattern(40, 16, 16), fps=10, audio=wave)
    audio = read_audio(tmp_path / "burst.mp4")
    loud = clip_log_spectrogram(audio, start_frame=20, num_frames=10, fps=10)
    quiet = clip_log_spectrogram(audio, start_frame=0, num_frames=10, fps=10)
    assert loud.shape == quiet.shape == (N_BINS, 101)
    assert float(loud[32].mean()) > float(quiet[32].mean()) + 5  # 1 kHz = bin 32
    # past the end of the audio: zeros, same shape
    assert clip_log_spectrogram(audio, 38, 10, 10).shape == (N_BINS, 101)


def test_clip_spectrogram_needs_audio():
    with pytest.raises(AudioError, match="needs a video with sound"):
        clip_log_spectrogram(None, 0, 8, 10)
