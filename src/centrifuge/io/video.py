"""Video reading, streaming and writing with PyAV (FFmpeg).

At this level frames are numpy ``uint8`` arrays of shape ``(T, H, W, 3)`` in RGB order;
the rest of the library turns them into float tensors ``(B, 3, T, H, W)`` in ``[0, 1]``
(``centrifuge.io.frames_to_tensor``).

Every failure is a :class:`~centrifuge.errors.VideoReadError` or
:class:`~centrifuge.errors.VideoWriteError` with one line naming the file and the fix.
A damaged stream is decoded as far as it goes and a :class:`TruncatedVideoWarning`
says how many frames were recovered.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from centrifuge.errors import VideoReadError, VideoWriteError

__all__ = [
    "TruncatedVideoWarning",
    "Video",
    "VideoInfo",
    "VideoWriter",
    "iter_chunks",
    "probe",
    "read_video",
    "write_video",
]

# Consecutive undecodable packets after which a stream is treated as ended: a truncated
# or corrupt tail produces a run of errors, and going on would only spin.
_MAX_CONSECUTIVE_ERRORS = 64


class TruncatedVideoWarning(UserWarning):
    """Fewer frames could be decoded than the container announces."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a file without decoding its pixels."""

    path: str
    duration_s: float
    fps: float
    width: int
    height: int
    num_frames: int
    has_audio: bool
    audio_rate: int | None
    audio_channels: int | None
    codec: str
    pix_fmt: str | None


@dataclass
class Video:
    """Decoded frames plus, when asked for, the aligned mono audio.

    Shape:
        frames: ``(T, H, W, 3)`` uint8 RGB. audio: ``(N,)`` float32 in [-1, 1].
    """

    frames: np.ndarray
    fps: float
    start_s: float = 0.0
    audio: np.ndarray | None = None
    audio_rate: int | None = None


def _open_input(path: str | os.PathLike) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise VideoReadError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise VideoReadError(f"{p}: is a directory, not a video file")
    try:
        return av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise VideoReadError(
            f"{p}: not a readable media file ({_short(e)}); pass a complete video "
            "(mp4, mkv, avi, mov, webm, ...)"
        ) from None


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def _video_stream(container, path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        container.close()
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        raise VideoReadError(
            f"{path}: has no video stream (it holds {', '.join(kinds)}); pass a video file"
        )
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _stream_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 1 <= float(rate) <= 1000:
            return float(rate)
    return 25.0


def _start_time(stream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _count_packets(path) -> int:
    """Count video packets by demuxing only (no decoding); one packet is one frame."""
    with _open_input(path) as c:
        stream = _video_stream(c, path)
        return sum(1 for pkt in c.demux(stream) if pkt.size > 0)


def probe(path: str | os.PathLike, *, exact: bool = False) -> VideoInfo:
    """Describe a video file: duration, fps, size, frame count, audio presence.

    Args:
        path: the file.
        exact: count frames by demuxing the whole stream instead of trusting the
            container header (slower, but right for files that announce nothing).
    """
    with _open_input(path) as c:
        stream = _video_stream(c, path)
        fps = _stream_fps(stream)
        ctx = stream.codec_context
        frames = int(stream.frames or 0)
        if c.duration:
            duration = c.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = frames / fps if frames else 0.0
        audio = c.streams.audio[0] if c.streams.audio else None
        info = dict(
            path=str(path),
            fps=fps,
            width=int(ctx.width),
            height=int(ctx.height),
            has_audio=audio is not None,
            audio_rate=int(audio.rate) if audio is not None else None,
            audio_channels=int(audio.channels) if audio is not None else None,
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt,
        )
    if exact or frames <= 0:
        frames = _count_packets(path)
    if duration <= 0:
        duration = frames / fps
    return VideoInfo(duration_s=float(duration), num_frames=frames, **info)


def _target_size(width: int, height: int, size) -> tuple[int, int] | None:
    """``size`` is None, an int (shorter side, aspect kept) or ``(H, W)``; returns (W, H)."""
    if size is None:
        return None
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        scale = size / min(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))
    h, w = size
    return int(w), int(h)


def _to_rgb(frame: av.VideoFrame, wh: tuple[int, int] | None) -> np.ndarray:
    # swscale converts any pixel format (gray, 10-bit, yuv444, ...) to rgb24 here.
    if wh is None or (frame.width, frame.height) == wh:
        return frame.to_ndarray(format="rgb24")
    shrink = wh[0] < frame.width
    frame = frame.reformat(
        width=wh[0], height=wh[1], format="rgb24", interpolation="AREA" if shrink else "BICUBIC"
    )
    return frame.to_ndarray()


class _Decoder:
    """Decodes one video stream, surviving damaged packets, and counts what it recovered."""

    def __init__(self, path, start_s: float = 0.0):
        self.path = path
        self.container = _open_input(path)
        self.stream = _video_stream(self.container, path)
        self.fps = _stream_fps(self.stream)
        self.announced = int(self.stream.frames or 0)
        self.errors = 0
        self.start_s = max(0.0, float(start_s))
        self._t0 = _start_time(self.stream)
        if self.start_s > 0 and self.stream.time_base is not None:
            target = int((self.start_s + self._t0) / self.stream.time_base)
            try:
                self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
            except av.error.FFmpegError:
                self.container.seek(0, stream=self.stream)

    def frames(self) -> Iterator[av.VideoFrame]:
        """Yield frames at or after ``start_s``, in order."""
        half = 0.5 / self.fps
        index = 0  # fallback clock for streams without timestamps
        for frame in self._raw_frames():
            t = frame.time - self._t0 if frame.time is not None else index / self.fps
            index += 1
            if t + half < self.start_s:
                continue
            yield frame

    def _raw_frames(self) -> Iterator[av.VideoFrame]:
        consecutive = 0
        demux = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demux)
                decoded = packet.decode()
            except StopIteration:
                break
            except av.error.FFmpegError:
                self.errors += 1
                consecutive += 1
                if consecutive > _MAX_CONSECUTIVE_ERRORS:
                    break
                continue
            consecutive = 0
            yield from decoded
            if packet.size == 0:  # the flush packet: the stream is over
                break

    def close(self):
        self.container.close()


def _check_decoded(path, decoded: int, dec: _Decoder, wanted: int | None) -> None:
    if decoded == 0:
        raise VideoReadError(
            f"{path}: no decodable video frames"
            + (f" after {dec.start_s:.2f} s" if dec.start_s > 0 else "")
            + "; the file is empty, damaged or the start time is past its end"
        )
    # Headers can be a few frames off (edit lists, B-frame delays): a real shortfall is
    # one with decoding errors or clearly below what the container announced.
    missing = dec.announced - decoded
    whole_file = dec.start_s == 0 and wanted is None
    if whole_file and missing > 0 and (dec.errors or missing > max(3, 0.05 * dec.announced)):
        warnings.warn(
            f"{path}: truncated or damaged; decoded {decoded} frames"
            + (f" of {dec.announced} announced" if dec.announced else "")
            + (f" ({dec.errors} unreadable packets)" if dec.errors else ""),
            TruncatedVideoWarning,
            stacklevel=3,
        )


def read_video(
    path: str | os.PathLike,
    *,
    start_s: float = 0.0,
    num_frames: int | None = None,
    size: int | tuple[int, int] | None = None,
    audio: bool = False,
    audio_rate: int = 16000,
) -> Video:
    """Decode frames (and optionally audio) from a video file.

    Args:
        path: any file FFmpeg reads.
        start_s: first frame time in seconds from the stream start.
        num_frames: how many frames to return (fewer if the video ends); None reads to
            the end.
        size: None keeps the native size, an int resizes the shorter side to it, a pair
            ``(H, W)`` resizes to exactly that.
        audio: also return the mono audio covering the returned frames, resampled to
            ``audio_rate`` (None in :attr:`Video.audio` when the file has no audio).

    Returns:
        A :class:`Video` with ``frames`` of shape ``(T, H, W, 3)`` uint8.
    """
    if num_frames is not None and num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    dec = _Decoder(path, start_s)
    try:
        wh = _target_size(dec.stream.codec_context.width, dec.stream.codec_context.height, size)
        out = []
        for frame in dec.frames():
            out.append(_to_rgb(frame, wh))
            if num_frames is not None and len(out) >= num_frames:
                break
        _check_decoded(path, len(out), dec, num_frames)
        fps = dec.fps
    finally:
        dec.close()
    video = Video(frames=np.stack(out), fps=fps, start_s=float(start_s))
    if audio:
        from centrifuge.io.audio import read_audio  # local: audio imports this module

        video.audio = read_audio(
            path, start_s=start_s, duration_s=len(out) / fps, rate=audio_rate, missing="none"
        )
        video.audio_rate = audio_rate if video.audio is not None else None
    return video


def iter_chunks(
    path: str | os.PathLike,
    chunk_frames: int,
    overlap: int = 0,
    *,
    size: int | tuple[int, int] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Stream a video in chunks of ``chunk_frames`` frames that overlap by ``overlap``.

    Memory holds one chunk, whatever the video's length. The last chunk may be shorter.

    Yields:
        ``(first_frame_index, frames)`` with frames ``(t, H, W, 3)`` uint8.
    """
    if chunk_frames <= 0 or not 0 <= overlap < chunk_frames:
        raise ValueError(
            f"need chunk_frames > 0 and 0 <= overlap < chunk_frames, got {chunk_frames}, {overlap}"
        )
    dec = _Decoder(path)
    try:
        wh = _target_size(dec.stream.codec_context.width, dec.stream.codec_context.height, size)
        buf: list[np.ndarray] = []
        start = 0
        total = 0
        for frame in dec.frames():
            buf.append(_to_rgb(frame, wh))
            total += 1
            if len(buf) == chunk_frames:
                yield start, np.stack(buf)
                buf = buf[chunk_frames - overlap :]
                start += chunk_frames - overlap
        if total == 0:
            _check_decoded(path, 0, dec, None)
        if len(buf) > overlap or (buf and start == 0):
            yield start, np.stack(buf)
        _check_decoded(path, total, dec, None)
    finally:
        dec.close()


def _fps_fraction(fps: float) -> Fraction:
    if not (0 < fps <= 1000) or not math.isfinite(fps):
        raise VideoWriteError(f"invalid frame rate {fps}; pass fps between 0 and 1000")
    return Fraction(fps).limit_denominator(10000)


class VideoWriter:
    """Write H.264 (yuv420p) video, and AAC audio when given, atomically.

    Frames go to a hidden temporary file beside ``path`` that is renamed into place by
    :meth:`close`; if anything fails (or the ``with`` block raises) the temporary file
    is removed, so a failure never leaves a partial output behind.

    Odd widths or heights (which yuv420p cannot hold) are padded by one replicated
    row/column; the written video is then up to one pixel larger than the frames.

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
        crf: int = 18,
        preset: str = "fast",
    ):
        self.path = Path(path)
        self.fps = _fps_fraction(fps)
        self.crf = crf
        self.preset = preset
        if audio is not None:
            audio = np.asarray(audio, dtype=np.float32)
            if audio.ndim == 1:
                audio = audio[None]
            if audio.ndim != 2 or audio.shape[0] not in (1, 2) or audio.shape[1] == 0:
                raise VideoWriteError(
                    f"audio must be (N,) mono or (C, N) with C in 1..2, got {audio.shape}"
                )
            if not audio_rate or audio_rate <= 0:
                raise VideoWriteError(f"invalid audio rate {audio_rate}")
        self.audio = audio
        self.audio_rate = audio_rate
        self.frames_written = 0
        self._audio_pos = 0
        self._container = None
        self._vstream = None
        self._astream = None
        hidden = f".{self.path.stem}.{os.getpid()}.partial{self.path.suffix}"
        self._tmp = self.path.with_name(hidden)

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
            vs.width, vs.height = width + width % 2, height + height % 2
            vs.pix_fmt = "yuv420p"
            vs.options = {"crf": str(self.crf), "preset": self.preset}
            self._vstream = vs
            if self.audio is not None:
                layout = "mono" if self.audio.shape[0] == 1 else "stereo"
                self._astream = self._container.add_stream("aac", rate=self.audio_rate)
                self._astream.layout = layout
        except (av.error.FFmpegError, OSError, ValueError) as e:
            self.abort()
            raise VideoWriteError(f"{self.path}: cannot start writing ({_short(e)})") from None

    def write(self, frames: np.ndarray) -> None:
        """Append frames ``(T, H, W, 3)`` (or one frame ``(H, W, 3)``) of uint8 RGB."""
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
        h, w = self._size
        if h % 2 or w % 2:
            frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        try:
            for f in frames:
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
                self._container.mux(self._vstream.encode(vf))
                self.frames_written += 1
            self._write_audio_until(self.frames_written / float(self.fps))
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise VideoWriteError(
                f"{self.path}: writing failed ({_short(e)}); check free space"
            ) from None

    def _write_audio_until(self, t_s: float | None) -> None:
        if self._astream is None:
            return
        total = self.audio.shape[1]
        end = total if t_s is None else min(total, int(round(t_s * self.audio_rate)))
        if end <= self._audio_pos:
            return
        chunk = np.ascontiguousarray(self.audio[:, self._audio_pos : end])
        af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self._astream.layout.name)
        af.sample_rate = self.audio_rate
        af.pts = self._audio_pos
        af.time_base = Fraction(1, self.audio_rate)
        self._container.mux(self._astream.encode(af))
        self._audio_pos = end

    def close(self) -> Path:
        """Flush, close and move the finished file into place; returns its path."""
        if self._container is None:
            raise VideoWriteError(f"{self.path}: no frames were written")
        try:
            self._container.mux(self._vstream.encode(None))
            if self._astream is not None:
                # Audio past the last frame is dropped: outputs keep the video's length.
                self._write_audio_until(self.frames_written / float(self.fps))
                self._container.mux(self._astream.encode(None))
            self._container.close()
            self._container = None
            os.replace(self._tmp, self.path)
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise VideoWriteError(
                f"{self.path}: finishing the file failed ({_short(e)}); check free space"
            ) from None
        return self.path

    def abort(self) -> None:
        """Drop everything written so far; the target path is left untouched."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - already failing; removing the file matters more
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
