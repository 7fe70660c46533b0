"""Errors the library raises on bad input.

Every error carries one line that names the problem and, where there is one, the fix.
The CLI prints that line and exits with status 2 (see ``cli.main``).
"""

from __future__ import annotations

import re


class CentrifugeError(Exception):
    """Base class of every error caused by bad input rather than a bug."""


class VideoReadError(CentrifugeError):
    """A video or audio file could not be read."""


class VideoWriteError(CentrifugeError):
    """A video file could not be written."""


class AudioError(CentrifugeError):
    """Audio is missing or unusable where it is needed."""


class CorpusError(CentrifugeError):
    """The sample corpus is missing, incomplete or fails verification."""


class MissingDependencyError(CentrifugeError):
    """A package that this operation needs is not installed (PyAV on a bare GPU machine)."""


class ConfigError(CentrifugeError):
    """A configuration file or override is invalid."""


class ModelLoadingError(CentrifugeError):
    """A model name, checkpoint file or pretrained weights file is invalid."""


class ShapeError(CentrifugeError):
    """A tensor or video has a shape the model cannot take."""


class OutputExistsError(CentrifugeError):
    """An output would overwrite an existing file or the input."""


# What to change when an allocation fails, per command (the guard in
# separation/inference.py refuses most sizes that cannot fit before any work is done).
OOM_FIX = {
    "separate": "pass a --max-size (e.g. 512) or a shorter --segment (e.g. 16)",
    "train": "lower data.batch_size, data.frames or data.size",
    "evaluate": "lower --size or --frames",
}


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation that failed (Python's, or PyTorch's allocators',
    which raise RuntimeError: "DefaultCPUAllocator: can't allocate memory", CUDA OOM)."""
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return any(k in text for k in ("can't allocate memory", "DefaultCPUAllocator",
                                   "out of memory", "Cannot allocate memory"))


def describe_oom(error: BaseException) -> str:
    """The size of the allocation that failed, from an allocator's message."""
    m = re.search(r"tried to allocate (\d+) bytes", str(error))
    if m:
        return f"an allocation of {int(m.group(1)) / 2**30:.1f} GiB failed"
    return "no memory left"


def one_line(error: Exception) -> str:
    """The message of an error; for one re-raised by a DataLoader worker (whose text is
    "Caught X in DataLoader worker process N." plus the worker's traceback), the
    original message — the traceback's last line without its type."""
    text = str(error)
    if text.startswith("Caught ") and "Original Traceback" in text:
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        return last.split(": ", 1)[1] if ": " in last else last
    return text
