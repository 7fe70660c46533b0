"""Video reading, streaming and writing with PyAV (FFmpeg).

At this level frames are numpy ``uint8`` arrays of shape ``(T, H, W, 3)`` in RGB order;
the rest of the library turns them into float tensors ``(B, 3, T, H, W)`` in ``[0, 1]``
(``centrifuge.io.frames_to_tensor``).

Every failure is a :class:`~centrifuge.errors.VideoReadError` with one line naming the
file and the fix. A damaged stream is decoded as far as it goes and a
:class:`TruncatedVideoWarning` says how many frames were recovered. Frames come out
upright: a rotation recorded in the container (phone videos) is applied while decoding,
and :class:`VideoInfo` reports the upright size. Writing lives in
:mod:`centrifuge.io.writer`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from centrifuge.errors import VideoReadError
from centrifuge.io.audio import read_audio
from centrifuge.io.media import decode_tolerantly, open_input, start_time
from centrifuge.io.pyav import av

__all__ = [
    "TruncatedVideoWarning",
    "Video",
    "VideoInfo",
    "iter_chunks",
    "iter_frames",
    "probe",
    "read_video",
]


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
    rotation: int = 0


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


def _video_stream(container, path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        container.close()
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


def _count_packets(path) -> int:
    """Count video packets by demuxing only (no decoding); one packet is one frame."""
    with open_input(path) as c:
        stream = _video_stream(c, path)
        return sum(1 for pkt in c.demux(stream) if pkt.size > 0)


def _rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns (0-3) that make ``frame`` upright."""
    try:
        degrees = int(round(frame.rotation or 0))
    except (AttributeError, ValueError, TypeError):
        return 0
    return (degrees // 90) % 4 if degrees % 90 == 0 else 0


def _first_rotation(container, stream) -> int:
    """The container's display rotation in degrees (0, 90, 180, 270), read from the
    first decodable frame (PyAV exposes it per frame)."""
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                return 90 * _rotation(frame)
            if packet.size == 0:
                break
    except av.error.FFmpegError:
        pass
    return 0


def probe(path: str | os.PathLike, *, exact: bool = False) -> VideoInfo:
    """Describe a video file: duration, fps, size, frame count, audio presence.

    Args:
        path: the file.
        exact: count frames by demuxing the whole stream instead of trusting the
            container header (slower, but right for files that announce nothing).
    """
    with open_input(path) as c:
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
        rotation = _first_rotation(c, stream)
        width, height = int(ctx.width), int(ctx.height)
        if rotation % 180:
            width, height = height, width
        info = dict(
            path=str(path),
            fps=fps,
            width=width,
            height=height,
            rotation=rotation,
            has_audio=audio is not None,
            audio_rate=int(audio.rate) if audio is not None else None,
            audio_channels=int(audio.channels) if audio is not None else None,
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt,
        )
    if exact or frames <= 0:
        header = int(round(duration * fps))  # what a header duration implies
        frames = _count_packets(path)
        # Matroska/WebM state no frame count; a file cut short still states its length.
        missing = header - frames
        if not exact and missing > max(3, 0.05 * header):
            warnings.warn(f"{path}: truncated or damaged; {frames} frames of the {header} its "
                          f"header announces ({duration:.1f} s) are there", TruncatedVideoWarning,
                          stacklevel=2)
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


def _to_rgb(frame: av.VideoFrame, size) -> np.ndarray:
    """Upright RGB frame, resized as ``size`` asks (see :func:`_target_size`) for the
    upright picture."""
    # swscale converts any pixel format (gray, 10-bit, yuv444, ...) to rgb24 here.
    turns = _rotation(frame)
    upright = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    wh = _target_size(*upright, size)
    if wh is not None and turns % 2:
        wh = (wh[1], wh[0])  # resize before turning: the stored picture is sideways
    if wh is None or (frame.width, frame.height) == wh:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        shrink = wh[0] < frame.width
        rgb = frame.reformat(width=wh[0], height=wh[1], format="rgb24",
                             interpolation="AREA" if shrink else "BICUBIC").to_ndarray()
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


class _Decoder:
    """Decodes one video stream, surviving damaged packets, and counts what it recovered."""

    def __init__(self, path, start_s: float = 0.0):
        self.path = path
        self.container = open_input(path)
        self.stream = _video_stream(self.container, path)
        self.fps = _stream_fps(self.stream)
        self.announced = int(self.stream.frames or 0)
        self.errors = 0
        self.start_s = max(0.0, float(start_s))
        self._t0 = start_time(self.stream)
        self._sought = False
        if self.start_s > 0 and self.stream.time_base is not None:
            target = int((self.start_s + self._t0) / self.stream.time_base)
            try:
                self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
                self._sought = True
            except av.error.FFmpegError:
                self.container.seek(0, stream=self.stream)

    def frames(self) -> Iterator[av.VideoFrame]:
        """Yield frames at or after ``start_s``, in order, exactly as a read from the
        start would decode them."""
        half = 0.5 / self.fps
        index = 0  # fallback clock for streams without timestamps
        for frame in self._raw_frames():
            if self._sought:
                self._sought = False
                if getattr(frame, "is_corrupt", False):
                    # The seek landed on a frame the container calls a keyframe but the
                    # codec cannot restart from (an H.264 I-frame that is not an IDR:
                    # later frames still reference pictures before it), so what follows
                    # would decode differently from a read from the start — and not even
                    # the same way twice with threads (corpus clip "cockatoo" does this).
                    # Only the landing frame's flag is reliable; read from the start.
                    self.container.seek(0, stream=self.stream)
                    yield from self.frames()
                    return
            t = frame.time - self._t0 if frame.time is not None else index / self.fps
            index += 1
            if t + half < self.start_s:
                continue
            yield frame

    def _raw_frames(self) -> Iterator[av.VideoFrame]:
        return decode_tolerantly(self.container, self.stream, on_error=self._count_error)

    def _count_error(self, error, gave_up) -> None:
        self.errors += 1

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
        _target_size(1, 1, size)  # a bad size fails before decoding
        out = []
        for frame in dec.frames():
            out.append(_to_rgb(frame, size))
            if num_frames is not None and len(out) >= num_frames:
                break
        _check_decoded(path, len(out), dec, num_frames)
        fps = dec.fps
    finally:
        dec.close()
    video = Video(frames=np.stack(out), fps=fps, start_s=float(start_s))
    if audio:
        video.audio = read_audio(
            path, start_s=start_s, duration_s=len(out) / fps, rate=audio_rate, missing="none"
        )
        video.audio_rate = audio_rate if video.audio is not None else None
    return video


def iter_frames(
    path: str | os.PathLike, *, size: int | tuple[int, int] | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream upright RGB frames with their presentation times in seconds from the
    stream start (a variable-frame-rate video keeps its irregular times).

    Yields:
        ``(time_s, frame (H, W, 3) uint8)``.
    """
    _target_size(1, 1, size)  # a bad size fails before decoding
    dec = _Decoder(path)
    try:
        total = 0
        for frame in dec.frames():
            t = frame.time - dec._t0 if frame.time is not None else total / dec.fps
            yield t, _to_rgb(frame, size)
            total += 1
        _check_decoded(path, total, dec, None)
    finally:
        dec.close()


def iter_chunks(
    path: str | os.PathLike,
    chunk_frames: int,
    overlap: int = 0,
    *,
    size: int | tuple[int, int] | None = None,
    times: bool = False,
) -> Iterator[tuple]:
    """Stream a video in chunks of ``chunk_frames`` frames that overlap by ``overlap``.

    Memory holds one chunk, whatever the video's length. The last chunk may be shorter.

    Yields:
        ``(first_frame_index, frames)`` with frames ``(t, H, W, 3)`` uint8, plus the
        frames' times in seconds ``(t,)`` when ``times``.
    """
    if chunk_frames <= 0 or not 0 <= overlap < chunk_frames:
        raise ValueError(
            f"need chunk_frames > 0 and 0 <= overlap < chunk_frames, got {chunk_frames}, {overlap}"
        )
    buf: list[np.ndarray] = []
    stamps: list[float] = []
    start = 0

    def emit():
        out = (start, np.stack(buf))
        return (*out, np.array(stamps)) if times else out

    for t, frame in iter_frames(path, size=size):
        buf.append(frame)
        stamps.append(t)
        if len(buf) == chunk_frames:
            yield emit()
            buf, stamps = buf[chunk_frames - overlap :], stamps[chunk_frames - overlap :]
            start += chunk_frames - overlap
    if len(buf) > overlap or (buf and start == 0):
        yield emit()
