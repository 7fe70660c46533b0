"""``centrifuge separate``: video files in, a folder of layers per file out.

``<out>/<model>/<input stem>/`` receives::

    layer_0.mp4 … layer_{k-1}.mp4   each layer with the input's sound (or .npz / png
                                   folders with --format)
    mosaic.mp4                     input and every model output side by side, with sound
    contact.png                    four moments of the input and of each output, labelled
    summary.json                   model, settings, input facts, per-layer stats, timings
    report.html                    all of the above on one page, videos playing in sync
    selected.mp4                   C3 models: the layer the sound picks, with that sound

Paths come from :mod:`centrifuge.safe_writes` (safe names, a claim per folder, partial
folder renamed into place, ``--force`` replacing only our own files).

One pass, three threads joined by small bounded queues: decoding (PyAV) → the model
(:func:`centrifuge.separation.inference.stitch`, this thread) → statistics and encoding of every
output at once. Sound is streamed (:class:`~centrifuge.io.AudioStream`) beside the
frames, so memory stays flat with video length, sound or not.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from centrifuge.errors import AudioError, CentrifugeError, VideoReadError, VideoWriteError
from centrifuge.io import AudioStream, frames_to_tensor, iter_chunks, probe, tensor_to_frames
from centrifuge.io.writer import SoundEncoder
from centrifuge.safe_writes import OutputFolder, safe_name, write_text_atomic
from centrifuge.separation.control_sound import choose_layer, control_sound, spectrogram_at
from centrifuge.separation.inference import Separator, stitch
from centrifuge.separation.report import write_report
from centrifuge.separation.selection import DEFAULT_RULE, RULES, LayerStats
from centrifuge.separation.sinks import (
    FORMATS,
    SUFFIX,
    ContactSheet,
    Mosaic,
    layer_names,
    open_layer,
)
from centrifuge.separation.summary import build_summary, segment_reports

_OWNED = re.compile(r"^(summary\.json|report\.html|contact\.png|mosaic\.mp4|selected\.mp4|"
                    r"layer_\d+(\.mp4|\.npz)?)$")
_QUEUE = 3  # blocks in flight between stages: enough to overlap, little memory


def is_owned(path: Path) -> bool:
    """Whether an entry of an output folder is one ``separate`` writes (``--force`` may
    replace it)."""
    return bool(_OWNED.match(path.name))


@dataclass
class SeparationResult:
    folder: Path
    layers: list[Path]
    summary: dict
    extras: list[Path] = field(default_factory=list)


def output_folder(out_root: str | os.PathLike, model_name: str, video: str | os.PathLike) -> Path:
    """``<out_root>/<model_name>/<input stem>``, names made safe (see
    :func:`centrifuge.safe_writes.safe_name`): always strictly inside ``<out_root>/<model>``."""
    return Path(out_root) / safe_name(model_name, "model") / safe_name(Path(video).stem)


def _check_out_root(out_root: Path, inputs: Iterable[Path]) -> None:
    if out_root.exists() and not out_root.is_dir():
        raise VideoWriteError(f"-o {out_root} is a file, not a folder; pass a folder")
    for p in inputs:
        if p.exists() and out_root.exists() and os.path.samefile(p, out_root):
            raise VideoWriteError(f"-o {out_root} is the input; pass a folder")


def _check_space(folder: Path, info, n_files: int) -> None:
    # Outputs are H.264 at crf 18: a few times the input's bitrate per file at worst.
    src = Path(info.path).stat().st_size
    need = max(16 << 20, 4 * src * n_files)
    parent = folder
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if free < need:
        raise VideoWriteError(
            f"not enough free space in {parent}: {free >> 20} MiB free, about {need >> 20} MiB "
            "needed; free some space or pass -o to another disk"
        )


def separate_file(
    separator: Separator,
    path: str | os.PathLike,
    out_root: str | os.PathLike = "separated",
    *,
    layers: int | None = None,
    force: bool = False,
    select: str = DEFAULT_RULE,
    format: str = "mp4",  # the CLI's --format
    mosaic: bool = True,
    report: bool = True,
    owned=is_owned,
) -> SeparationResult:
    """Separate a video file into a folder (see the module docstring).

    Args:
        separator: the model and inference settings.
        path: the input video.
        out_root: root of the outputs (``separated/`` by default).
        layers: keep only this many layers (only 2 is supported), or None to keep all n.
        force: replace an existing output folder (only if it holds only our outputs).
        select: how the two layers are chosen (:mod:`centrifuge.separation.selection`):
            ``recompose`` (default) or ``dissimilar`` (the paper's rule).
        format: the layers as ``mp4`` (with sound), ``png`` frames or ``npz`` arrays.
        mosaic / report: also write ``mosaic.mp4`` + ``contact.png`` / ``report.html``.
        owned: which entries of an existing output folder ``force`` may replace.
    """
    t_start = time.perf_counter()
    path = Path(path)
    n = separator.n_layers
    if layers is not None and layers not in (2, n):
        if n == 2:
            raise CentrifugeError(f"--layers {layers}: {separator.method.name} makes 2 layers; "
                                  "leave out --layers (or pass 2)")
        raise CentrifugeError(f"--layers {layers}: {separator.method.name} makes {n} layers; "
                              f"keep all {n} (leave out --layers) or 2, chosen by --select")
    if select not in RULES:
        raise CentrifugeError(f"--select {select}: choose one of {', '.join(RULES)}")
    if format not in FORMATS:
        raise CentrifugeError(f"--format {format}: choose one of {', '.join(FORMATS)}")
    out_root = Path(out_root)
    _check_out_root(out_root, [path])
    info = probe(path)  # clear errors for missing/unreadable/audio-only files come first
    control = control_sound(separator, path, info)
    h, w = separator.output_size(info.height, info.width)
    frames = info.num_frames
    if frames < 2 * separator.method.min_frames:  # near the limit: count, do not estimate
        frames = probe(path, exact=True).num_frames
    separator.method.check_size(frames, h, w)
    separator.check_memory(h, w, info.num_frames)
    final = output_folder(out_root, separator.method.name, path)
    claim = OutputFolder(final, owned=owned, force=force, inputs=[path])
    claim.check()
    _check_space(final.parent, info, n + 1)
    with claim as work:
        separator.method.take_reports()  # only this video's segments below
        summary = _run(separator, path, info, work, (h, w), layers or n, select, format,
                       mosaic, control)
        summary.update(segment_reports(separator.method.take_reports()))
        summary["timings_s"]["total"] = round(time.perf_counter() - t_start, 2)
        write_text_atomic(work / "summary.json", json.dumps(summary, indent=1))
        if report:
            write_report(work, summary)
    kept = [final / name for name in layer_names(format, len(summary["layers"]))]
    extras = [final / p for p in ("selected.mp4", "mosaic.mp4", "contact.png", "report.html")
              if (final / p).exists()]
    return SeparationResult(final, kept, summary, extras)


# -- the pipeline ---------------------------------------------------------------------

def _background(source: Iterator, name: str) -> Iterator:
    """Run ``source`` in a thread ``_QUEUE`` items ahead; re-raise its errors here."""
    q: queue.Queue = queue.Queue(_QUEUE)
    stop = threading.Event()
    done = object()

    def pump():
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as e:  # handed to the consumer
            q.put(("error", e))

    thread = threading.Thread(target=pump, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "item":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        thread.join(timeout=10)


class _Encoder:
    """The third stage: statistics and every output file, fed block by block."""

    def __init__(self, work, separator, info, size, fmt, mosaic):
        n = separator.n_layers
        self.n, self.stop = n, threading.Event()
        self.sound = self._open_sound(info)
        # every file carries the same sound: one AAC encode, its packets muxed into all
        wants_sound = self.sound is not None and (fmt == "mp4" or mosaic)
        self.aac = SoundEncoder(self.sound.rate, self.sound.channels) if wants_sound else None
        self.paths = [work / f"all_{i}{SUFFIX[fmt]}" for i in range(n)]
        self.layers = [open_layer(fmt, p, info.fps, self.aac) for p in self.paths]
        self.mosaic = (Mosaic(work / "mosaic.mp4", info.fps, size, n, self.aac)
                       if mosaic else None)
        labels = ["input"] + [f"output {i}" for i in range(n)]
        self.contact = ContactSheet(info.num_frames, size, labels) if mosaic else None
        self.fps = info.fps
        self.stats = LayerStats(n)
        self.frames = 0
        self.last_time = 0.0
        self.queue: queue.Queue = queue.Queue(_QUEUE)
        self.error: BaseException | None = None
        self.busy = 0.0
        self.thread = threading.Thread(target=self._loop, name="encode", daemon=True)
        self.thread.start()

    @staticmethod
    def _open_sound(info):
        if not info.has_audio:
            return None
        try:
            return AudioStream(info.path)
        except (AudioError, VideoReadError, ValueError) as e:
            warnings.warn(f"{info.path}: its sound cannot be decoded ({e}); the layers are "
                          "written without sound", stacklevel=2)
            return None

    def put(self, block: torch.Tensor, source: torch.Tensor, times: np.ndarray) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put((block, source, times), timeout=0.1)
                return
            except queue.Full:
                continue

    def _loop(self):
        try:
            while True:
                item = self.queue.get()
                if item is None or self.stop.is_set():
                    return
                t0 = time.perf_counter()
                self._write(*item)
                self.busy += time.perf_counter() - t0
        except BaseException as e:  # handed to the main thread
            self.error = e
            self.stop.set()

    def _write(self, block, source, times):
        k = block.shape[2]
        self.stats.update(block, source)
        frames = [tensor_to_frames(block[i]) for i in range(self.n)]
        src = tensor_to_frames(source)
        self.last_time = float(times[-1])
        packets = (self.aac.encode(self.sound.read_until(self.last_time + 1 / self.fps))
                   if self.aac else None)
        for sink, f in zip(self.layers, frames, strict=True):
            sink.write(f, times, packets)
        if self.mosaic is not None:
            self.mosaic.write([src, *frames], times, packets)
            self.contact.write([src, *frames], times)
        self.frames += k

    def finish(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        tail = self.aac.encode(None) if self.aac else None
        for sink in [*self.layers, *([self.mosaic] if self.mosaic else [])]:
            sink.close(tail)
        if self.sound:
            self.sound.close()

    def abort(self) -> None:
        self.stop.set()
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=1)  # wakes the thread if it waits for work
        self.thread.join(timeout=30)
        for sink in [*self.layers, *([self.mosaic] if self.mosaic else [])]:
            sink.abort()
        if self.sound:
            self.sound.close()


def _run(separator: Separator, path: Path, info, work: Path, size, n_kept: int, select: str,
         fmt: str, mosaic: bool, control: np.ndarray | None = None) -> dict:
    n = separator.n_layers
    h, w = size
    overlap = separator.overlap_frames
    t0 = time.perf_counter()
    encoder = _Encoder(work, separator, info, size, fmt, mosaic)
    pending: list[tuple[torch.Tensor, np.ndarray]] = []  # input frames not yet matched
    model_time = 0.0

    def segments():
        chunks = iter_chunks(path, separator.segment, overlap, size=(h, w), times=True)
        for start, frames, stamps in _background(chunks, "decode"):
            x = frames_to_tensor(frames)
            skip = overlap if start else 0
            pending.append((x[:, skip:], stamps[skip:]))
            if control is None:
                yield start, x
            else:
                yield start, x, spectrogram_at(control, stamps, info.fps)

    def timed(segment, *spec):
        nonlocal model_time
        t = time.perf_counter()
        out = separator.separate_segment(segment, *spec)
        model_time += time.perf_counter() - t
        return out

    bar = tqdm(total=info.num_frames, unit="frame", desc="separating",
               disable=not separator.progress, dynamic_ncols=True)
    scores: list = []
    try:
        for block in stitch(segments(), timed, overlap, scores=scores):
            k = block.shape[2]
            source = torch.cat([p[0] for p in pending], dim=1)
            stamps = np.concatenate([p[1] for p in pending])
            pending[:] = [(source[:, k:], stamps[k:])] if source.shape[1] > k else []
            encoder.put(block, source[:, :k], stamps[:k])
            bar.update(k)
        encoder.finish()
    except BaseException:
        encoder.abort()
        raise
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    kept = list(encoder.stats.pairs.pick(select)) if n_kept == 2 and n > 2 else list(range(n))
    chosen = None
    if scores:
        chosen = choose_layer(scores, encoder.paths, work, fmt, separator, control)
    names = layer_names(fmt, len(kept))
    for new, old in enumerate(kept):
        os.replace(encoder.paths[old], work / names[new])
    for p in encoder.paths:
        if p.exists():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if encoder.contact is not None:
        encoder.contact.save(work / "contact.png")

    return build_summary(separator, path, info, size, encoder, kept=kept, names=names,
                         n_kept=n_kept, select=select, fmt=fmt, mosaic=mosaic, chosen=chosen,
                         elapsed=elapsed, model_time=model_time)
