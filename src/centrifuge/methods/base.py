"""What every separation method offers the :class:`~centrifuge.separation.Separator`.

The project separates video two ways: learned networks (:mod:`centrifuge.models`, run by
:class:`~centrifuge.methods.learned.LearnedSeparator`) and training-free methods that
separate by the physics of layered video (:mod:`centrifuge.methods.static`). Both are a
:class:`LayerSeparator`: one clip in, its layers out. Everything a whole video needs —
segments, overlap, re-ordering, cross-fades, files, the report — is the Separator's, so a
new method only has to say how it separates one clip and what it is.

Tensors: a clip ``(3, t, H, W)`` float in [0, 1] on the CPU → layers ``(n, 3, t, H, W)``
float32 in [0, 1] on the CPU.
"""

from __future__ import annotations

import abc
import dataclasses

import torch

KINDS = ("learned", "training-free")


class LayerSeparator(abc.ABC):
    """A way to separate one clip into layers.

    Attributes:
        name: the name it is created by (``centrifuge separate -n NAME``).
        kind: ``learned`` (a trained network) or ``training-free``.
        n_layers: the number of layers it returns.
        takes_audio: whether :meth:`separate_clip` needs the clip's sound (C3).
        segment: the clip length (frames) it works best on; the Separator's default.
        fixed_order: whether layer ``i`` always means the same thing (``static-layer``:
            0 the still layer, 1 the moving one); the Separator then never re-orders
            segments, as it must for a permutation-free network.
        precision / precision_reason: the arithmetic it runs in, and why.
        bytes_per_voxel: peak memory per frame × pixel of a clip, for the memory guard.
        min_frames / min_side: the shortest video and the smallest frame side it can work
            on (``motion-layers`` needs frames to see motion in); a video under them is
            refused before anything is written.
        summary: one line for ``--list-models``.
    """

    name: str = "?"
    kind: str = "training-free"
    n_layers: int = 2
    takes_audio: bool = False
    segment: int = 32
    fixed_order: bool = False
    precision: str = "fp32"
    precision_reason: str = "training-free: computed in fp32"
    bytes_per_voxel: int = 256
    min_frames: int = 1
    min_side: int = 1
    summary: str = ""

    @abc.abstractmethod
    def separate_clip(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        """One clip ``(3, t, H, W)`` in [0, 1] → layers ``(n, 3, t, H, W)`` (CPU, fp32,
        in [0, 1]). A method that ``takes_audio`` gets the clip's log-spectrogram ``spec``
        ``(257, S)`` and returns ``(layers, scores (n,))``, the lowest score the layer
        of the sound."""

    def check_size(self, frames: int | None, height: int, width: int) -> None:
        """One clear line (a :class:`~centrifuge.errors.CentrifugeError`) for a video too
        short or too small for this method."""
        from centrifuge.errors import CentrifugeError

        if frames is not None and frames < self.min_frames:
            raise CentrifugeError(
                f"{self.name} needs at least {self.min_frames} frames to see motion in; this "
                f"video has {frames} (use a longer clip, or -n static-layer / default)")
        if min(height, width) < self.min_side:
            raise CentrifugeError(
                f"{self.name} needs frames of at least {self.min_side}×{self.min_side} "
                f"pixels; this video is {width}×{height}")

    def too_small(self, video: torch.Tensor) -> dict | None:
        """The report of a clip ``(3, t, H, W)`` too short or too small for this method to
        see motion in (under ``min_frames`` / ``min_side``; a video's last segment can be),
        else None."""
        t, h, w = video.shape[1:]
        if t < self.min_frames or min(h, w) < self.min_side:
            return {"frames": t, "separated": False,
                    "why": f"a clip of {t} frames of {w}×{h} is too small to see motion in"}
        return None

    def describe(self) -> dict:
        """What the method is, for ``summary.json``, the report and ``--list-models``; a
        method whose ``config`` is a settings dataclass lists its settings too."""
        out = {"name": self.name, "kind": self.kind, "n_layers": self.n_layers,
               "takes_audio": self.takes_audio, "segment": self.segment,
               "fixed_order": self.fixed_order, "precision": self.precision,
               "summary": self.summary}
        config = getattr(self, "config", None)
        if dataclasses.is_dataclass(config):
            out["settings"] = dataclasses.asdict(config)
        return out

    def take_reports(self) -> list[dict]:
        """What the method found in each clip since the last call (and forget it): for a
        training-free method, e.g. whether the clip could be separated and why not. A
        method that keeps a ``reports`` list (appending one per clip) hands that over; a
        method with nothing to say returns ``[]``."""
        reports = getattr(self, "reports", None)
        if reports is None:
            return []
        self.reports = []
        return reports
