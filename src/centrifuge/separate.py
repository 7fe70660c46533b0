"""``centrifuge separate``: a video file in, a folder of layers out.

``<out>/<model>/<input stem>/`` receives::

    layer_0.mp4 … layer_{k-1}.mp4   each layer, with the input's sound
    mosaic.mp4                     input and layers side by side, with the input's sound
    contact.png                    four frames of the input and of each layer
    summary.json                   model, settings, input facts, per-layer stats, timings

The folder is assembled under a hidden temporary name and renamed into place only when
complete, so a failure (bad input, full disk, Ctrl-C) leaves nothing behind. An existing
output folder is replaced only with ``force``, and never when the input lives inside it.

Pass 1 streams the video through the model (:func:`centrifuge.inference.stitch`) and
writes every layer; pass 2 re-reads the input and the kept layers to draw the mosaic and
the contact sheet. Memory stays flat with video length in both.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from centrifuge.errors import CentrifugeError, OutputExistsError, VideoWriteError
from centrifuge.inference import Separator, stitch
from centrifuge.io import VideoWriter, frames_to_tensor, iter_chunks, probe, tensor_to_frames
from centrifuge.io.audio import read_audio
from centrifuge.selection import DEFAULT_RULE, RULES, PairStats

MOSAIC_MAX_WIDTH = 1920
CONTACT_FRAMES = 4
AUDIO_RATE = 44100


@dataclass
class SeparationResult:
    folder: Path
    layers: list[Path]
    mosaic: Path
    contact: Path
    summary: dict


def output_folder(out_root: str | os.PathLike, model_name: str, video: str | os.PathLike) -> Path:
    """The one place output paths are built: ``<out_root>/<model_name>/<input stem>``."""
    return Path(out_root) / model_name / Path(video).stem


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


def _layer_stats(mean: torch.Tensor, mean_sq: torch.Tensor, to_input: torch.Tensor) -> list[dict]:
    """Per layer: mean colour, pixel standard deviation, mean |layer − input|."""
    std = (mean_sq - mean**2).clamp_min(0).sqrt()
    return [
        {"mean_rgb": [round(float(v), 4) for v in mean[i]],
         "std": round(float(std[i].mean()), 4),
         "mean_abs_diff_to_input": round(float(to_input[i]), 4)}
        for i in range(len(mean))
    ]


def separate_file(
    separator: Separator,
    path: str | os.PathLike,
    out_root: str | os.PathLike = "separated",
    *,
    layers: int | None = None,
    force: bool = False,
    select: str = DEFAULT_RULE,
) -> SeparationResult:
    """Separate a video file into a folder (see the module docstring).

    Args:
        separator: the model and inference settings.
        path: the input video.
        out_root: root of the outputs (``separated/`` by default).
        layers: keep only this many layers (only 2 is supported), or None to keep all n.
        force: replace an existing output folder.
        select: how the two layers are chosen (:mod:`centrifuge.selection`):
            ``recompose`` (default) or ``dissimilar`` (the paper's rule).
    """
    t_start = time.perf_counter()
    path = Path(path)
    info = probe(path)  # clear errors for missing/unreadable/audio-only files come first
    n = separator.n_layers
    if layers is not None and layers not in (2, n):
        raise CentrifugeError(
            f"--layers {layers}: keep 2 (chosen by --select) or all {n} layers"
        )
    if select not in RULES:
        raise CentrifugeError(f"--select {select}: choose one of {', '.join(RULES)}")
    final = output_folder(out_root, separator.model_name, path)
    if final.exists():
        if path.resolve().is_relative_to(final.resolve()):
            raise OutputExistsError(
                f"{final} holds the input {path}; move the input or choose another -o"
            )
        if not force:
            raise OutputExistsError(f"{final} already exists; pass --force to replace it")
    n_kept = layers or n
    _check_space(final.parent, info, n + 1)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        summary = _run(separator, path, info, work, n_kept, select)
        summary["timings_s"]["total"] = round(time.perf_counter() - t_start, 2)
        (work / "summary.json").write_text(json.dumps(summary, indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    kept = [final / f"layer_{i}.mp4" for i in range(n_kept)]
    return SeparationResult(final, kept, final / "mosaic.mp4", final / "contact.png", summary)


def _run(separator: Separator, path: Path, info, work: Path, n_kept: int, select: str) -> dict:
    n = separator.n_layers
    h, w = separator.output_size(info.height, info.width)
    audio = read_audio(path, rate=AUDIO_RATE, mono=False, missing="none")
    overlap = separator.overlap_frames
    timings = {}

    # Pass 1: model → every layer file.
    t0 = time.perf_counter()
    writers = [VideoWriter(work / f"all_{i}.mp4", info.fps, audio=audio, audio_rate=AUDIO_RATE)
               for i in range(n)]
    pairs = PairStats(n)
    sums = torch.zeros(n, 3, dtype=torch.float64)
    squares = torch.zeros(n, 3, dtype=torch.float64)
    to_input = torch.zeros(n, dtype=torch.float64)
    frames_done = 0
    chunks = iter_chunks(path, separator.segment, overlap, size=(h, w))
    inputs: list[torch.Tensor] = []  # the input frames not yet matched with layers

    def segments():
        for start, frames in chunks:
            x = frames_to_tensor(frames)
            inputs.append(x[:, overlap if start else 0 :])
            yield start, x

    bar = tqdm(total=info.num_frames, unit="frame", desc="separating",
               disable=not separator.progress, dynamic_ncols=True)
    try:
        for block in stitch(segments(), separator.separate_segment, overlap):
            k = block.shape[2]
            source = torch.cat(inputs, dim=1)
            mine, rest = source[:, :k], source[:, k:]
            inputs[:] = [rest] if rest.shape[1] else []
            pairs.update(block, mine)
            flat = block.double().flatten(3)
            sums += flat.sum(-1).sum(-1)
            squares += (flat**2).sum(-1).sum(-1)
            to_input += (block - mine[None]).abs().double().mean(dim=(1, 3, 4)).sum(-1)
            for i in range(n):
                writers[i].write(tensor_to_frames(block[i]))
            frames_done += k
            bar.update(k)
        for wr in writers:
            wr.close()
    except BaseException:
        for wr in writers:
            wr.abort()
        raise
    finally:
        bar.close()
    timings["separate"] = round(time.perf_counter() - t0, 2)

    kept = list(pairs.pick(select)) if n_kept == 2 and n > 2 else list(range(n))
    for new, old in enumerate(kept):
        os.replace(work / f"all_{old}.mp4", work / f"layer_{new}.mp4")
    for i in range(n):
        (work / f"all_{i}.mp4").unlink(missing_ok=True)

    # Pass 2: mosaic and contact sheet from the input and the kept layers.
    t0 = time.perf_counter()
    _mosaic_and_contact(path, work, (h, w), info.fps, len(kept), frames_done, audio)
    timings["mosaic"] = round(time.perf_counter() - t0, 2)
    timings["frames_per_s"] = round(frames_done / max(timings["separate"], 1e-9), 2)

    pixels = frames_done * h * w
    stats = _layer_stats(sums / pixels, squares / pixels, to_input / frames_done)
    return {
        "input": {"path": str(path), "frames": frames_done, "fps": info.fps,
                  "size": [info.width, info.height], "audio": audio is not None},
        "model": separator.model_name,
        "settings": {"segment": separator.segment, "overlap": separator.overlap,
                     "overlap_frames": overlap, "device": str(separator.device),
                     "precision": separator.precision, "max_size": separator.max_size,
                     "processed_size": [w, h], "layers": n_kept},
        "layers": {f"layer_{new}": {"model_output": old, **stats[old]}
                   for new, old in enumerate(kept)},
        "selection": {"kept_outputs": kept, "rule": "all" if len(kept) == n else select,
                      "distance": [[round(float(v), 5) for v in row]
                                   for row in pairs.distance()],
                      "recomposition_mse": [[round(float(v), 6) for v in row]
                                            for row in pairs.recomposition_error()]},
        "timings_s": timings,
    }


def _mosaic_and_contact(path, work, size, fps, k, total, audio) -> None:
    h, w = size
    scale = min(1.0, MOSAIC_MAX_WIDTH / ((k + 1) * w))
    th, tw = max(2, 2 * round(h * scale / 2)), max(2, 2 * round(w * scale / 2))
    picks = {int(total * (i + 0.5) / CONTACT_FRAMES) for i in range(CONTACT_FRAMES)}
    contact: dict[int, list[np.ndarray]] = {}
    streams = [iter_chunks(path, 16, 0, size=(th, tw))]
    streams += [iter_chunks(work / f"layer_{i}.mp4", 16, 0, size=(th, tw)) for i in range(k)]
    with VideoWriter(work / "mosaic.mp4", fps, audio=audio, audio_rate=AUDIO_RATE) as writer:
        for parts in zip(*streams, strict=False):
            start = parts[0][0]
            blocks = [p[1] for p in parts]
            m = min(len(b) for b in blocks)
            writer.write(np.concatenate([b[:m] for b in blocks], axis=2))
            for t in range(m):
                if start + t in picks:
                    contact[start + t] = [b[t] for b in blocks]
    rows = [np.concatenate(contact[t], axis=0) for t in sorted(contact)]  # one column per time
    if rows:
        Image.fromarray(np.concatenate(rows, axis=1)).save(work / "contact.png")
