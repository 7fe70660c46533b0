"""Where separated frames go: layer files (mp4, png, npz), the mosaic, the contact sheet.

Every sink takes frames as they come (``(t, H, W, 3)`` uint8 with their times in
seconds) and holds at most one block, so memory stays flat with video length. All of
them write inside the command's partial folder (:class:`centrifuge.safe_writes.OutputFolder`),
which becomes the output only when everything is complete.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from centrifuge.io import VideoWriter
from centrifuge.io.writer import SoundEncoder

FORMATS = ("mp4", "png", "npz")
CONTACT_FRAMES = 4
MOSAIC_MAX_WIDTH = 1920
CONTACT_TILE = 320  # longer side of one contact-sheet picture
# x264 "superfast": at the same crf about the PSNR of "veryfast" in less CPU time, for
# somewhat larger files; on a CPU every second spent encoding is taken from the model.
LAYER_PRESET = "superfast"
LAYER_CRF = 18


SUFFIX = {"mp4": ".mp4", "npz": ".npz", "png": ""}  # png: a folder of frames


def layer_names(fmt: str, k: int) -> list[str]:
    """The entries ``k`` layers take in the output folder for one format."""
    return [f"layer_{i}{SUFFIX[fmt]}" for i in range(k)]


class Mp4Layer:
    """``layer_i.mp4`` with the input's sound (also the base of :class:`Mosaic`).

    ``sound``: the :class:`~centrifuge.io.writer.SoundEncoder` every file of a run
    shares; :meth:`write` takes the block's ``packets`` of it and :meth:`close` the
    encoder's last ones."""

    crf = LAYER_CRF
    preset = LAYER_PRESET

    def __init__(self, path: Path, fps: float, sound: SoundEncoder | None = None):
        self.writer = VideoWriter(path, fps, crf=self.crf, preset=self.preset, sound=sound)

    def write(self, frames, times, packets=None):
        self.writer.write(frames, times)
        if packets:
            self.writer.write_sound_packets(packets)

    def close(self, packets=None):
        if packets:
            self.writer.write_sound_packets(packets)
        self.writer.close()

    def abort(self):
        self.writer.abort()


class PngLayer:
    """``layer_i/000000.png …``: lossless frames, numbered from 0 in input order."""

    def __init__(self, path: Path):
        self.folder = path
        self.folder.mkdir()
        self.count = 0

    def write(self, frames, times, packets=None):
        for f in frames:
            Image.fromarray(f).save(self.folder / f"{self.count:06d}.png", compress_level=1)
            self.count += 1

    def close(self, packets=None):
        pass

    def abort(self):
        pass


class NpzLayer:
    """``layer_i.npz`` holding ``frames`` (T, H, W, 3) uint8 and ``times`` (T,) float64.

    Frames are spooled to a raw file as they come and packed into the archive at the
    end (numpy's header needs T, known only then), so memory holds one block."""

    def __init__(self, path: Path):
        self.path = path
        self.raw = path.with_name(f".{path.stem}.frames")
        self.file = open(self.raw, "wb")  # closed in close()/abort()
        self.times: list[float] = []
        self.shape = None

    def write(self, frames, times, packets=None):
        self.shape = frames.shape[1:]
        self.file.write(np.ascontiguousarray(frames).tobytes())
        self.times.extend(float(t) for t in times)

    def close(self, packets=None):
        self.file.close()
        shape = (len(self.times), *self.shape)
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            with z.open("frames.npy", "w", force_zip64=True) as out:
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    header, {"descr": "|u1", "fortran_order": False, "shape": shape})
                out.write(header.getvalue())
                with open(self.raw, "rb") as src:
                    while block := src.read(1 << 24):
                        out.write(block)
            buf = io.BytesIO()
            np.save(buf, np.asarray(self.times, dtype=np.float64))
            z.writestr("times.npy", buf.getvalue())
        self.raw.unlink()

    def abort(self):
        self.file.close()
        self.raw.unlink(missing_ok=True)


def open_layer(fmt: str, path: Path, fps: float, sound: SoundEncoder | None = None):
    if fmt == "mp4":
        return Mp4Layer(path, fps, sound)
    if fmt == "png":
        return PngLayer(path)
    return NpzLayer(path)


def mosaic_size(h: int, w: int, k: int) -> tuple[int, int]:
    """Size of each tile of a mosaic of the input and ``k`` layers side by side."""
    scale = min(1.0, MOSAIC_MAX_WIDTH / ((k + 1) * w))
    return max(2, round(h * scale)), max(2, round(w * scale))


def _shrink(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if frames.shape[1:3] == size:
        return frames
    h, w = size
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.BILINEAR))
                     for f in frames])


class Mosaic(Mp4Layer):
    """``mosaic.mp4``: input and layers side by side, with the input's sound."""

    # A preview: with the layers' "superfast", crf 26 gives the size of "veryfast" at
    # crf 23 in about half the encoding time (1 dB lower PSNR).
    crf = 26

    def __init__(self, path: Path, fps: float, size, k: int,
                 sound: SoundEncoder | None = None):
        super().__init__(path, fps, sound)
        self.tile = mosaic_size(*size, k)

    def write(self, tiles: list[np.ndarray], times, packets=None):
        super().write(np.concatenate([_shrink(t, self.tile) for t in tiles], axis=2), times,
                      packets)


class ContactSheet:
    """``contact.png``: a labelled row per stream (input, layer_0, …) and a column per
    sampled time (labelled with it), picked evenly over ``total`` frames."""

    def __init__(self, total: int, size, labels: list[str]):
        self.labels = labels
        scale = min(1.0, CONTACT_TILE / max(size))
        self.tile = (max(2, round(size[0] * scale)), max(2, round(size[1] * scale)))
        self.picks = sorted({int(total * (i + 0.5) / CONTACT_FRAMES)
                             for i in range(CONTACT_FRAMES)})
        self.columns: dict[int, tuple[float, list[np.ndarray]]] = {}
        self.seen = 0

    def write(self, tiles: list[np.ndarray], times):
        for t in range(len(times)):
            if self.seen + t in self.picks:
                self.columns[self.seen + t] = (
                    float(times[t]), [_shrink(x[t : t + 1], self.tile)[0] for x in tiles])
        self.seen += len(times)

    def save(self, path: Path) -> None:
        if not self.columns:
            return
        h, w = self.tile
        font = ImageFont.load_default()
        margin, header = 96, 18
        cols = [self.columns[k] for k in sorted(self.columns)]
        sheet = Image.new("RGB", (margin + w * len(cols), header + h * len(self.labels)),
                          (24, 24, 24))
        draw = ImageDraw.Draw(sheet)
        for r, label in enumerate(self.labels):
            draw.text((6, header + r * h + h // 2 - 6), label, fill=(240, 240, 240), font=font)
        for c, (t, tiles) in enumerate(cols):
            draw.text((margin + c * w + 4, 3), f"{t:.2f} s", fill=(240, 240, 240), font=font)
            for r, tile in enumerate(tiles):
                sheet.paste(Image.fromarray(tile), (margin + c * w, header + r * h))
        sheet.save(path)
