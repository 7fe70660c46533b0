"""Errors the library raises on bad input.

Every error carries one line that names the problem and, where there is one, the fix.
The CLI prints that line and exits with status 2 (see ``cli.main``).
"""


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
