"""Soundtracks for synthetic scenes, made from the scene's own motion.

Real clips with sound are few, so the control signal of C3 (ICCV 2019 §3.2) would have
little to learn from. A synthetic scene (:func:`~centrifuge.data.synthetic.draw_scene`)
sounds the way it moves, so its audio tells which of two blended videos it belongs to:

* each sprite carries a sound — a harmonic tone or a band of noise — whose loudness
  follows the sprite's speed and whose pitch rises with it;
* a sprite that reverses direction (a "bounce") clicks;
* the camera hums at a pitch set by its speed.

Everything is computed from the motion paths' coefficients, which are defined for any
time, so a soundtrack can be cut at an offset from its video (Appendix C) and still be
that scene's sound.

Output: mono float32 at 16 kHz covering ``frames / fps`` seconds from ``offset_s``.
"""

from __future__ import annotations

import numpy as np

from centrifuge.io.audio import SAMPLE_RATE

CLICK_S = 0.03


def draw_sounds(rng: np.random.Generator, scene: dict) -> dict:
    """The random parts of a scene's sound (timbres, pitches, levels)."""
    k = int(scene["sprites"])
    return {
        "noisy": rng.random(k) < 0.3,
        "pitch": np.exp(rng.uniform(np.log(110), np.log(1760), size=k)),
        "harmonics": rng.uniform(0, 1, size=(k, 3)) ** 2,
        "level": rng.uniform(0.5, 1.0, size=k),
        "hum_pitch": float(np.exp(rng.uniform(np.log(50), np.log(160)))),
        "hum_level": float(rng.uniform(0.1, 0.3)),
        "seed": int(rng.integers(2**31)),
    }


def _speed(paths: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Speed (frame widths per clip) along 2-D paths ``(2, 3)`` at clip times ``tau``."""
    d = [v + 2 * a * (tau - 0.5) for _, v, a in paths]
    return np.hypot(d[0], d[1])


def _reversals(paths: np.ndarray) -> list[float]:
    """Clip times where a path's velocity changes sign along an axis (bounces)."""
    out = []
    for _, v, a in paths:
        if abs(a) > 1e-6:
            out.append(0.5 - v / (2 * a))
    return out


def _tone(pitch: np.ndarray, harmonics: np.ndarray) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    out = np.sin(phase)
    for h, amp in enumerate(harmonics, start=2):
        out += amp * np.sin(h * phase)
    return out / (1 + harmonics.sum())


def _band(noise: np.ndarray, centre: float) -> np.ndarray:
    """White noise band-passed to ±30 % around ``centre`` Hz."""
    spec = np.fft.rfft(noise)
    f = np.fft.rfftfreq(len(noise), 1 / SAMPLE_RATE)
    spec[(f < 0.7 * centre) | (f > 1.3 * centre)] = 0
    out = np.fft.irfft(spec, len(noise))
    return out / (np.abs(out).max() + 1e-8)


def soundtrack(scene: dict, sounds: dict, frames: int, fps: float, *,
               offset_s: float = 0.0) -> np.ndarray:
    """The scene's sound over ``[offset_s, offset_s + frames / fps)`` seconds."""
    n = max(1, int(round(frames / fps * SAMPLE_RATE)))
    seconds = offset_s + np.arange(n) / SAMPLE_RATE
    # clip time of the renderer: frame k is drawn at k / (frames − 1)
    tau = seconds * fps / max(1, frames - 1)
    noise = np.random.default_rng(sounds["seed"])
    wave = np.zeros(n)
    for i in range(int(scene["sprites"])):
        paths = scene["paths"][i]
        speed = _speed(paths, tau)
        loud = np.tanh(speed / 1.5)
        pitch = sounds["pitch"][i] * (1 + 0.5 * np.tanh(speed))
        if sounds["noisy"][i]:
            voice = _band(noise.standard_normal(n), float(sounds["pitch"][i]) * 2)
        else:
            voice = _tone(pitch, sounds["harmonics"][i])
        wave += sounds["level"][i] * loud * voice
        for t in _reversals(paths):
            at = t * (frames - 1) / fps - offset_s  # seconds into this window
            first = int(round(at * SAMPLE_RATE))
            length = int(CLICK_S * SAMPLE_RATE)
            if -length < first < n:
                burst = noise.standard_normal(length) * np.exp(-np.arange(length) / (length / 5))
                lo, hi = max(first, 0), min(first + length, n)
                wave[lo:hi] += 0.8 * burst[lo - first : hi - first]
    camera = _speed(scene["camera"], tau)
    hum_pitch = sounds["hum_pitch"] * (1 + np.tanh(camera))
    wave += sounds["hum_level"] * (0.3 + np.tanh(2 * camera)) * _tone(hum_pitch, np.zeros(2))
    wave += 0.002 * noise.standard_normal(n)
    # a fixed gain (not the peak's): a still scene stays quiet instead of loud noise
    return (0.5 * wave / max(1.0, float(np.abs(wave).max()))).astype(np.float32)
