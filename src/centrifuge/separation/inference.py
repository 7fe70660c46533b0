"""Separating whole videos: segments, overlap-add, layer re-ordering, selection.

A video of any length goes through the model in fixed-length segments of ``segment``
frames that overlap by ``overlap · segment`` frames; memory holds one segment whatever
the video's length. Two things make the pieces one video again:

* **Re-ordering.** The model is permutation-free: layer k of one segment may be layer j
  of the next. Each segment's layers are permuted to best match the previous segment's
  on the frames they share (the assignment minimising the reconstruction loss ℓ), so a
  layer stays the same layer from the first frame to the last — as Asteroid's
  ``LambdaOverlapAdd(reorder_chunks=True)`` does for audio.
* **Cross-fading.** On the shared frames the two segments' layers are blended with a
  linear ramp, which hides the small differences between the two predictions.

Which two layers ``--layers 2`` keeps is :mod:`centrifuge.separation.selection`'s business.

Tensors: a segment ``(3, t, H, W)`` in [0, 1] → layers ``(n, 3, t, H, W)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from centrifuge.errors import CentrifugeError, ConfigError
from centrifuge.io import frames_to_tensor
from centrifuge.losses import best_assignment, pairwise_loss
from centrifuge.methods import LayerSeparator, create_method
from centrifuge.separation.control_sound import load_control_audio, mean_scores, with_spectrograms


def match_layers(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Permutation of ``current``'s layers that best matches ``previous`` (both
    ``(n, 3, t, H, W)`` over the same frames): ``current[perm]`` lines up with
    ``previous``."""
    cost = pairwise_loss(previous[None].float(), current[None].float())  # (1, n, n)
    _, assignment = best_assignment(cost)
    return assignment[0]


def crossfade_weights(overlap: int, device=None) -> torch.Tensor:
    """Weight of the *previous* segment on each of ``overlap`` shared frames: 1 → 0."""
    return (torch.arange(overlap, 0, -1, device=device, dtype=torch.float32) - 0.5) / overlap


def stitch(
    segments: Iterable[tuple],
    separate: Callable[..., torch.Tensor | tuple[torch.Tensor, torch.Tensor]],
    overlap: int,
    *,
    reorder: bool = True,
    scores: list | None = None,
) -> Iterator[torch.Tensor]:
    """Separate overlapping segments and yield the layers as one continuous stream.

    Args:
        segments: ``(first_frame, video (3, t, H, W))`` in order, each starting
            ``overlap`` frames before the previous one ended (as
            :func:`~centrifuge.io.iter_chunks` yields them); for a C3 model
            ``(first_frame, video, spectrogram)``, the spectrogram passed on to ``separate``.
        separate: the model: ``(3, t, H, W)`` → ``(n, 3, t, H, W)``, or
            ``(layers, scores (n,))`` for a controlled model.
        overlap: frames shared by consecutive segments.
        reorder: align each segment's layer order with the previous one.
        scores: a list that receives ``(scores (n,), frames)`` per segment, the scores in
            the stream's layer order (C3's control scores follow their layers).

    Yields:
        Consecutive blocks of layers ``(n, 3, k, H, W)`` covering every frame once.
    """
    held: torch.Tensor | None = None  # the previous segment's last `overlap` frames
    for _, video, *extra in segments:
        layers = separate(video, *extra)
        seg_scores = None
        if isinstance(layers, tuple):
            layers, seg_scores = layers
        if held is not None:
            shared = held.shape[2]
            if reorder:
                perm = match_layers(held, layers[:, :, :shared])
                layers = layers[perm]
                seg_scores = seg_scores[perm] if seg_scores is not None else None
            w = crossfade_weights(shared, layers.device).view(1, 1, -1, 1, 1)
            layers = layers.clone()
            layers[:, :, :shared] = w * held + (1 - w) * layers[:, :, :shared]
        if scores is not None and seg_scores is not None:
            scores.append((seg_scores, video.shape[1]))
        t = layers.shape[2]
        keep = t - overlap if t > overlap else t
        if keep > 0:
            yield layers[:, :, :keep]
        held = layers[:, :, keep:] if keep < t else None
    if held is not None and held.shape[2]:
        yield held


# Test-time views (flip left-right, reverse time): the model has no preferred direction
# in either, so averaging over them cancels some of its errors.
VIEWS = ((False, False), (True, False), (False, True), (True, True))


def resolve_device(device: str | torch.device) -> torch.device:
    """A usable ``torch.device`` from ``cpu``, ``cuda`` or ``cuda:N``, else one clear line."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"--device {device!r}: not a device; use cpu or cuda") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device}: unsupported here; use cpu or cuda")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: no CUDA GPU is available here; "
                              "use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: only {torch.cuda.device_count()} GPU(s) "
                              "here; use cuda:0")
    return dev


def available_memory() -> int | None:
    """Bytes this process can still allocate, None if unknown: the least of the system's
    MemAvailable, the address space left under ``ulimit -v`` (RLIMIT_AS) and the room
    left in the process's cgroup (a container's memory limit)."""
    limits = [_meminfo("MemAvailable"), _address_space_left(), _cgroup_left()]
    known = [v for v in limits if v is not None]
    return min(known) if known else None


def _meminfo(key: str, path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_left() -> int | None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = _meminfo("VmSize", "/proc/self/status")
    return max(0, soft - used) if used is not None else None


def _cgroup_left() -> int | None:
    try:
        limit = open("/sys/fs/cgroup/memory.max").read().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int(open("/sys/fs/cgroup/memory.current").read()))
    except (OSError, ValueError):
        return None


class Separator:
    """Separate videos of any length into layers with any method (the library's main
    entry point): segments, overlap, re-ordering and cross-fades around the method's
    :meth:`~centrifuge.methods.LayerSeparator.separate_clip`.

    Args:
        method: ``"default"``, another name of ``centrifuge separate --list-models``
            (a training-free method or a shipped network), a checkpoint path, a
            :class:`~centrifuge.models.base.LayerModel` or a
            :class:`~centrifuge.methods.LayerSeparator`.
        device: ``cpu`` or ``cuda`` (where a network runs).
        precision: a network's arithmetic: ``auto`` (bf16 where the device runs it
            natively, else fp32; see :mod:`centrifuge.precision`), ``bf16`` (autocast),
            ``fp32``, or ``fp16`` (GPU only). The choice and its reason:
            :attr:`precision`, :attr:`precision_reason`.
        segment: frames per segment the method sees at once (None: the method's own).
        overlap: fraction of a segment shared with the next (0 ≤ overlap ≤ 0.5).
        max_size: downscale inputs whose longer side exceeds this (None or 0: never).
        shifts: test-time augmentation: average the method over this many views of each
            segment (1: none; 2: + left-right flip; 3: + time reversal; 4: + both), each
            view's outputs re-ordered to agree before averaging. Costs ``shifts``× time.
        audio: for a C3 model, the sound that picks the layer: a file with sound, or a
            mono 16 kHz waveform; None: each video's own soundtrack.
        model: the name this argument had before methods (``Separator(model=...)``).

    Example:
        >>> import torch
        >>> sep = Separator("static-layer", progress=False)
        >>> layers = sep.separate(torch.rand(3, 8, 32, 32))   # (3, T, H, W) → (n, 3, T, H, W)
        >>> tuple(layers.shape)
        (2, 3, 8, 32, 32)
    """

    def __init__(
        self,
        method="default",
        *,
        device: str = "cpu",
        precision: str = "auto",
        segment: int | None = None,
        overlap: float = 0.25,
        max_size: int | None = 512,
        shifts: int = 1,
        progress: bool = True,
        audio: str | os.PathLike | np.ndarray | None = None,
        model=None,
    ):
        method = model if model is not None else method  # the old keyword still works
        if segment is not None and (not isinstance(segment, int) or segment < 2):
            raise ConfigError(f"segment must be an integer of at least 2 frames, got {segment!r}")
        if not 0 <= overlap <= 0.5:
            raise ConfigError(f"overlap must be between 0 and 0.5, got {overlap}")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 0):
            raise ConfigError(f"max_size must be positive (or 0 for none), got {max_size!r}")
        if max_size and max_size < 16:
            raise ConfigError(f"max_size {max_size} is too small to see anything; use 16 or more")
        if not isinstance(shifts, int) or not 1 <= shifts <= len(VIEWS):
            raise ConfigError(f"shifts must be 1 to {len(VIEWS)}, got {shifts!r}")
        self.shifts = shifts
        self.device = resolve_device(device)
        self.method: LayerSeparator = create_method(method, device=self.device,
                                                    precision=precision)
        self.segment = segment or self.method.segment
        self.overlap_frames = int(round(self.segment * overlap))
        if self.overlap_frames >= self.segment:
            raise ConfigError(f"overlap {overlap} leaves no new frames per segment of "
                              f"{self.segment}")
        self.overlap = overlap
        self.max_size = max_size or None
        self.progress = progress
        if audio is not None and not self.takes_audio:
            raise ConfigError(f"--audio: {self.method.name} is not controlled by sound; "
                              "use a C3 model (e.g. -n c3-cpu-v1)")
        self.audio = load_control_audio(audio) if audio is not None else None
        self.audio_source = None if audio is None or isinstance(audio, np.ndarray) else audio

    @property
    def takes_audio(self) -> bool:
        """Whether the method picks a layer by sound (a C3 model)."""
        return self.method.takes_audio

    @property
    def n_layers(self) -> int:
        return self.method.n_layers

    @property
    def precision(self) -> str:
        return self.method.precision

    @property
    def precision_reason(self) -> str:
        return self.method.precision_reason

    def separate_segment(self, video: torch.Tensor, spec: torch.Tensor | None = None):
        """One segment ``(3, t, H, W)`` in [0, 1] → layers ``(n, 3, t, H, W)`` (CPU, fp32,
        clamped to [0, 1]); with ``shifts`` > 1, the re-ordered average over views.

        With a C3 model and the segment's control spectrogram ``spec`` ``(257, S)``,
        returns ``(layers, scores (n,))``; the lowest score marks the layer of the sound.
        """
        if self.takes_audio and spec is None:
            raise ConfigError(f"model {self.method.name} picks a layer by sound: give the "
                              "segment's spectrogram (or use Separator.separate(..., fps=))")
        out, scores = self._clip(video, spec)
        out = out.clone()  # a normal tensor: updated in place below
        for flip_w, reverse_t in VIEWS[1 : self.shifts]:
            dims = [d for d, on in ((3, flip_w), (1, reverse_t)) if on]
            view_spec = spec.flip(-1) if spec is not None and reverse_t else spec
            view, view_scores = self._clip(video.flip(dims), view_spec)
            view = view.flip([d + 1 for d in dims])  # undo on (n, 3, t, H, W)
            perm = match_layers(out, view) if self.n_layers > 1 else slice(None)
            out += view[perm]
            if scores is not None:
                scores = scores + view_scores[perm]
        if self.shifts > 1:
            out /= self.shifts
        if scores is None:
            return out
        return out, scores / self.shifts

    def _clip(self, video: torch.Tensor, spec: torch.Tensor | None):
        out = self.method.separate_clip(video, spec)
        return out if isinstance(out, tuple) else (out, None)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) the video is processed and written at: its own size, or scaled to fit
        ``max_size`` with the aspect kept (the model pads and crops back any size)."""
        if self.max_size and max(height, width) > self.max_size:
            scale = self.max_size / max(height, width)
            height, width = round(height * scale), round(width * scale)
        return max(1, int(height)), max(1, int(width))

    def check_memory(self, height: int, width: int, frames: int | None = None) -> None:
        """Refuse, with the fix, a segment size that cannot fit in memory (a video of
        ``frames`` frames never makes a segment longer than itself)."""
        length = min(self.segment, frames) if frames else self.segment
        need = self.method.bytes_per_voxel * length * height * width
        if self.device.type == "cuda":
            free = torch.cuda.mem_get_info(self.device)[0]
        else:
            free = available_memory()
        if free is not None and need > free:
            raise ConfigError(
                f"separating {width}×{height} in segments of {length} frames needs about "
                f"{need / 2**30:.1f} GiB; {free / 2**30:.1f} GiB is free: pass a --max-size "
                "(e.g. 512) or a smaller --segment")

    def segments(self, video: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        step = self.segment - self.overlap_frames
        t = video.shape[1]
        start = 0
        while True:
            yield start, video[:, start : start + self.segment]
            if start + self.segment >= t:
                return
            start += step

    def separate(self, video: torch.Tensor | np.ndarray, *, fps: float | None = None,
                 audio: np.ndarray | None = None) -> torch.Tensor:
        """Separate a whole video held in memory.

        Args:
            video: ``(3, T, H, W)`` float in [0, 1], or ``(T, H, W, 3)`` uint8 frames.
            fps / audio: for a C3 model, the frame rate and the control sound (mono
                16 kHz from the first frame; default: the Separator's ``audio``).
                :attr:`scores` then holds the control scores, :attr:`selected` the layer
                the sound picks.

        Returns:
            ``(n, 3, T, H', W')`` float in [0, 1], layers consistent over the whole video;
            ``(H', W')`` is ``(H, W)`` scaled down to fit ``max_size`` when it exceeds it.
        """
        if isinstance(video, np.ndarray):
            if video.ndim != 4 or video.shape[-1] != 3:
                raise CentrifugeError(f"frames must be (T, H, W, 3), got {video.shape}")
            video = frames_to_tensor(video)
        if video.ndim != 4 or video.shape[0] != 3 or min(video.shape[1:]) < 1:
            raise CentrifugeError(f"video must be (3, T, H, W), got {tuple(video.shape)}")
        h, w = self.output_size(*video.shape[2:])
        self.method.check_size(video.shape[1], h, w)
        if (h, w) != tuple(video.shape[2:]):
            video = torch.nn.functional.interpolate(
                video.float(), size=(h, w), mode="bilinear", antialias=True,
                align_corners=False).clamp_(0, 1)
        self.check_memory(h, w, video.shape[1])
        segments = self.segments(video)
        scores: list = []
        if self.takes_audio:
            wave = audio if audio is not None else self.audio
            if wave is None or not fps or fps <= 0:
                raise ConfigError(f"model {self.method.name} picks a layer by sound: pass "
                                  "fps= and audio= (or Separator(audio=...))")
            segments = with_spectrograms(segments, np.asarray(wave, np.float32), fps)
        blocks = stitch(segments, self.separate_segment, self.overlap_frames, scores=scores,
                        reorder=not self.method.fixed_order)
        layers = torch.cat(list(blocks), dim=2)
        self.scores = mean_scores(scores) if scores else None
        self.selected = int(self.scores.argmin()) if scores else None
        return layers
