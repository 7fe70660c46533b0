"""Writing H.264 video (with AAC sound) atomically, streamed frame by frame.

Outputs keep what the input had: its exact size (odd sizes are stored as H.264 4:4:4,
which holds any size; even sizes as the widely playable 4:2:0), its frame times (a
variable-frame-rate input stays variable, so the sound does not drift) and its sound,
which is written as it arrives (:meth:`VideoWriter.write_audio`) so memory stays flat.
Files that carry the same sound can share one AAC encode (:class:`SoundEncoder`).
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from centrifuge.errors import VideoWriteError
from centrifuge.io.media import short_error
from centrifuge.io.pyav import av

__all__ = ["SoundEncoder", "VideoWriter", "write_video"]

TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for every common frame rate


def _fps_fraction(fps: float) -> Fraction:
    if not math.isfinite(fps) or not 0 < fps <= 1000:
        raise VideoWriteError(f"invalid frame rate {fps}; pass fps between 0 and 1000")
    return Fraction(fps).limit_denominator(10000)


def _copy_packets(packets: list, stream) -> list:
    """Fresh packets for ``stream`` (muxing consumes a packet; one per file)."""
    out = []
    for p in packets:
        q = av.Packet(bytes(p))
        q.pts, q.dts, q.duration, q.time_base = p.pts, p.dts, p.duration, p.time_base
        q.stream = stream
        out.append(q)
    return out


class SoundEncoder:
    """One AAC encode of a soundtrack, its packets muxed into several files.

    ``centrifuge separate`` writes the input's sound into every layer and the mosaic;
    encoding it once instead of once per file saves CPU time the model needs. A
    :class:`VideoWriter` given this encoder takes its packets through
    :meth:`VideoWriter.write_sound_packets`.
    """

    def __init__(self, rate: int, channels: int):
        if channels not in (1, 2):
            raise VideoWriteError(f"audio must have 1 or 2 channels, got {channels}")
        if not rate or rate <= 0:
            raise VideoWriteError(f"invalid audio rate {rate}")
        self.rate, self.channels = int(rate), int(channels)
        self.layout = "mono" if channels == 1 else "stereo"
        ctx = av.CodecContext.create("aac", "w")
        ctx.sample_rate, ctx.layout, ctx.format = self.rate, self.layout, "fltp"
        ctx.time_base = Fraction(1, self.rate)
        ctx.open()
        self._ctx = ctx
        self._pos = 0

    def encode(self, samples: np.ndarray | None) -> list:
        """Packets for ``(C, N)`` float samples in [-1, 1]; ``None`` flushes the encoder."""
        try:
            if samples is None:
                return list(self._ctx.encode(None))
            samples = np.ascontiguousarray(samples, dtype=np.float32)
            if samples.ndim == 1:
                samples = samples[None]
            if samples.shape[1] == 0:
                return []
            af = av.AudioFrame.from_ndarray(samples, format="fltp", layout=self.layout)
            af.sample_rate, af.pts, af.time_base = self.rate, self._pos, Fraction(1, self.rate)
            self._pos += samples.shape[1]
            return list(self._ctx.encode(af))
        except (av.error.FFmpegError, ValueError) as e:
            raise VideoWriteError(f"encoding the sound failed ({short_error(e)})") from None


class VideoWriter:
    """Write H.264 video, and AAC audio when given, to ``path`` atomically.

    Frames go to a hidden temporary file beside ``path`` that is renamed into place by
    :meth:`close`; if anything fails (or the ``with`` block raises) the temporary file
    is removed, so a failure never leaves a partial output behind.

    Args:
        fps: nominal rate; frames without explicit times are spaced ``1 / fps`` apart.
        audio: the whole soundtrack ``(N,)`` or ``(C, N)``, written alongside the frames;
            or None and, with ``audio_channels``, pieces passed to :meth:`write_audio`.
        audio_rate / audio_channels: the sound's sample rate and channel count (1 or 2).
        crf / preset: x264 quality (lower is better) and speed.
        sound: a :class:`SoundEncoder` shared with other files; its packets come through
            :meth:`write_sound_packets` (``audio``, ``audio_rate`` and
            ``audio_channels`` are then taken from it).

    Example:
        >>> with VideoWriter(path, fps=25) as w:   # doctest: +SKIP
        ...     w.write(frames)                     # (T, H, W, 3) uint8, any number of calls
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        *,
        audio: np.ndarray | None = None,
        audio_rate: int = 16000,
        audio_channels: int | None = None,
        crf: int = 18,
        preset: str = "fast",
        sound: SoundEncoder | None = None,
    ):
        self.path = Path(path)
        self.fps = _fps_fraction(fps)
        self.crf = crf
        self.preset = preset
        if sound is not None:
            audio, audio_rate, audio_channels = None, sound.rate, sound.channels
        if audio is not None:
            audio = self._as_audio(audio)
            audio_channels = audio.shape[0]
        if audio_channels is not None:
            if audio_channels not in (1, 2):
                raise VideoWriteError(f"audio must have 1 or 2 channels, got {audio_channels}")
            if not audio_rate or audio_rate <= 0:
                raise VideoWriteError(f"invalid audio rate {audio_rate}")
        self.audio_channels = audio_channels
        self.audio_rate = audio_rate
        self.frames_written = 0
        self._whole_audio = audio
        self._audio_pos = 0
        self._last_pts = -1
        self._container = None
        self._vstream = None
        self._astream = None
        self._shared_sound = sound is not None
        # the suffix stays last so FFmpeg picks the container format from it
        self._tmp = self.path.with_name(
            f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}")

    @staticmethod
    def _as_audio(audio) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[None]
        if audio.ndim != 2 or audio.shape[0] not in (1, 2) or audio.shape[1] == 0:
            raise VideoWriteError(
                f"audio must be (N,) mono or (C, N) with C in 1..2, got {audio.shape}")
        return audio

    # -- context manager ---------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _open(self, height: int, width: int) -> None:
        if not self.path.parent.is_dir():
            raise VideoWriteError(f"{self.path}: folder {self.path.parent} does not exist")
        options = {"movflags": "faststart"} if self.path.suffix.lower() in (".mp4", ".mov") else {}
        try:
            self._container = av.open(str(self._tmp), "w", options=options)
            vs = self._container.add_stream("libx264", rate=self.fps)
            vs.width, vs.height = width, height
            # 4:2:0 needs even sizes; 4:4:4 keeps an odd-sized input's every pixel.
            vs.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
            vs.codec_context.time_base = TIME_BASE
            vs.options = {"crf": str(self.crf), "preset": self.preset}
            self._vstream = vs
            if self.audio_channels is not None:
                layout = "mono" if self.audio_channels == 1 else "stereo"
                self._astream = self._container.add_stream("aac", rate=self.audio_rate)
                self._astream.layout = layout
        except (av.error.FFmpegError, OSError, ValueError) as e:
            self.abort()
            raise VideoWriteError(f"{self.path}: cannot start writing ({short_error(e)})") from None

    def write(self, frames: np.ndarray, times=None) -> None:
        """Append frames ``(T, H, W, 3)`` (or one ``(H, W, 3)``) of uint8 RGB, optionally
        with their times in seconds (increasing; e.g. the input's, to keep its timing)."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            self.abort()
            raise VideoWriteError(
                f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {tuple(frames.shape)}"
            )
        if self._container is None:
            self._size = frames.shape[1:3]
            self._open(*self._size)
        elif frames.shape[1:3] != self._size:
            self.abort()
            raise VideoWriteError(
                f"frame size changed from {self._size} to {frames.shape[1:3]} mid-video"
            )
        try:
            for k, f in enumerate(frames):
                t = float(times[k]) if times is not None else self.frames_written / self.fps
                pts = max(int(round(t / TIME_BASE)), self._last_pts + 1)
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
                vf.pts, vf.time_base = pts, TIME_BASE
                self._container.mux(self._vstream.encode(vf))
                self._last_pts = pts
                self.frames_written += 1
            if self._whole_audio is not None:
                self._write_audio_upto(self._end_time())
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise VideoWriteError(
                f"{self.path}: writing failed ({short_error(e)}); check free space"
            ) from None

    def _end_time(self) -> float:
        """Seconds covered by the frames written so far (last frame shown 1/fps)."""
        return (self._last_pts + 1) * float(TIME_BASE) + (1 / self.fps - float(TIME_BASE))

    def write_audio(self, samples: np.ndarray) -> None:
        """Append sound ``(C, N)`` float in [-1, 1] (C = ``audio_channels``)."""
        if self._shared_sound:
            raise VideoWriteError("this writer takes its sound as packets of its "
                                  "SoundEncoder (write_sound_packets)")
        if self._astream is None:
            if self._container is None:
                raise VideoWriteError("write the first frames before the sound")
            return
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[None]
        if samples.shape[1] == 0:
            return
        try:
            af = av.AudioFrame.from_ndarray(samples, format="fltp",
                                            layout=self._astream.layout.name)
            af.sample_rate = self.audio_rate
            af.pts = self._audio_pos
            af.time_base = Fraction(1, self.audio_rate)
            self._container.mux(self._astream.encode(af))
            self._audio_pos += samples.shape[1]
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise VideoWriteError(
                f"{self.path}: writing sound failed ({short_error(e)}); check free space"
            ) from None

    def write_sound_packets(self, packets: list) -> None:
        """Append packets of the shared :class:`SoundEncoder` this writer was given."""
        if not self._shared_sound:
            raise VideoWriteError("write_sound_packets needs a writer made with sound=")
        if self._container is None:
            raise VideoWriteError("write the first frames before the sound")
        try:
            for packet in _copy_packets(packets, self._astream):
                self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise VideoWriteError(
                f"{self.path}: writing sound failed ({short_error(e)}); check free space"
            ) from None

    def _write_audio_upto(self, t_s: float) -> None:
        end = min(self._whole_audio.shape[1], int(round(t_s * self.audio_rate)))
        if end > self._audio_pos:
            self.write_audio(self._whole_audio[:, self._audio_pos : end])

    def close(self) -> Path:
        """Flush, close and move the finished file into place; returns its path."""
        if self._container is None:
            raise VideoWriteError(f"{self.path}: no frames were written")
        try:
            self._container.mux(self._vstream.encode(None))
            if self._astream is not None:
                if self._whole_audio is not None:
                    self._write_audio_upto(self._end_time())
                if not self._shared_sound:
                    self._container.mux(self._astream.encode(None))
            self._container.close()
            self._container = None
            os.replace(self._tmp, self.path)
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise VideoWriteError(
                f"{self.path}: finishing the file failed ({short_error(e)}); check free space"
            ) from None
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; the target path is left untouched."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # already failing; removing the file matters more
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    *,
    audio_rate: int = 16000,
    crf: int = 18,
) -> Path:
    """Write ``frames`` ``(T, H, W, 3)`` uint8 as H.264 mp4 (plus AAC audio if given).

    The file appears only when complete (see :class:`VideoWriter`).
    """
    with VideoWriter(path, fps, audio=audio, audio_rate=audio_rate, crf=crf) as w:
        w.write(frames)
    return Path(path)


def remux_with_sound(video: str | os.PathLike, out: str | os.PathLike,
                     sound: str | os.PathLike | np.ndarray, *, rate: int = 16000) -> Path:
    """``video``'s picture (packets copied, not re-encoded) with another sound, cut to
    the picture's length, written atomically to ``out``.

    ``sound``: a file with sound (read at its own quality, up to stereo) or a mono
    waveform at ``rate``.
    """
    from centrifuge.io.audio import AudioStream

    out = Path(out)
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")
    stream_in = AudioStream(sound) if not isinstance(sound, np.ndarray) else None
    try:
        with av.open(str(video)) as src, av.open(str(tmp), "w",
                                                 options={"movflags": "faststart"}) as dst:
            vin = src.streams.video[0]
            vout = dst.add_stream_from_template(vin)
            if src.duration:
                seconds = src.duration / av.time_base
            else:
                seconds = float(vin.frames / (vin.average_rate or 25))
            if stream_in is not None:
                samples, srate = stream_in.read_until(seconds), stream_in.rate
            else:
                samples = np.asarray(sound, np.float32)[None, : int(round(seconds * rate))]
                srate = rate
            aout = dst.add_stream("aac", rate=srate)
            aout.layout = "mono" if samples.shape[0] == 1 else "stereo"
            for packet in src.demux(vin):
                if packet.dts is None:
                    continue
                packet.stream = vout
                dst.mux(packet)
            if samples.shape[1]:
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp",
                                                layout=aout.layout.name)
                af.sample_rate, af.pts, af.time_base = srate, 0, Fraction(1, srate)
                dst.mux(aout.encode(af))
            dst.mux(aout.encode(None))
        os.replace(tmp, out)
    except (av.error.FFmpegError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise VideoWriteError(f"{out}: writing failed ({short_error(e)}); check free space") \
            from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if stream_in is not None:
            stream_in.close()
    return out
