"""What reading video and reading audio share: opening a container safely, one-line
error text, and stream start times. Both :mod:`~centrifuge.io.video` and
:mod:`~centrifuge.io.audio` import from here (never from each other's internals)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from centrifuge.errors import VideoReadError
from centrifuge.io.pyav import av

# Consecutive undecodable packets after which a stream is treated as ended: a truncated
# or corrupt tail produces a run of errors, and going on would only spin.
MAX_CONSECUTIVE_ERRORS = 64


def open_input(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a media file for reading, refusing what would hang or is not a file."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise VideoReadError(f"{p}: no such file; check the path") from None
    except OSError as e:
        raise VideoReadError(f"{p}: cannot be read ({e.strerror}); check the path") from None
    if stat.S_ISDIR(mode):
        raise VideoReadError(f"{p}: is a directory, not a video file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise VideoReadError(f"{p}: is {kind}, not a regular file; save the stream to a "
                             "file first")
    try:
        return av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as e:
        raise VideoReadError(
            f"{p}: not a readable media file ({short_error(e)}); pass a complete video "
            "(mp4, mkv, avi, mov, webm, ...)"
        ) from None


def short_error(e: Exception) -> str:
    """The first line of an exception's text (FFmpeg's can run to many lines)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def start_time(stream) -> float:
    """A stream's first timestamp in seconds (0 when it has none)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def decode_tolerantly(container, stream, on_error=None) -> Iterator:
    """Decoded frames of ``stream``, skipping damaged packets; a run of more than
    :data:`MAX_CONSECUTIVE_ERRORS` ends the stream. ``on_error(error, gave_up)`` hears of
    each skipped packet (``gave_up`` on the one that ends it)."""
    consecutive = 0
    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
            decoded = packet.decode()
        except StopIteration:
            return
        except av.error.FFmpegError as e:
            consecutive += 1
            gave_up = consecutive > MAX_CONSECUTIVE_ERRORS
            if on_error is not None:
                on_error(e, gave_up)
            if gave_up:
                return
            continue
        consecutive = 0
        yield from decoded
        if packet.size == 0:  # the flush packet: the stream is over
            return


VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts",
                  ".wmv", ".flv", ".ogv", ".3gp", ".gif"}


def expand_inputs(items: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; a folder stands for the videos directly inside it (by suffix)."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir()
                           if q.suffix.lower() in VIDEO_SUFFIXES and q.is_file())
            if not found:
                raise VideoReadError(f"{p}: no video files inside (looked for "
                                     f"{', '.join(sorted(VIDEO_SUFFIXES))})")
            out += found
        else:
            out.append(p)
    return out
