"""Where training and validation videos come from: three sources of :class:`VideoEntry`.

* ``corpus`` — the sample corpus manifest (``train``/``val`` split, shot boundaries);
* ``folder`` — every video under a folder, recursively;
* ``kinetics`` — a CSV ``path,label[,start,end]`` (paths relative to the CSV; times in
  seconds) or a folder of class-named sub-folders, as Kinetics-400/600 are distributed.

``synthetic`` (procedural layered video, :mod:`centrifuge.data.synthetic`) and ``mixed``
are handled by the data module, not here: they have no files.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from centrifuge.errors import ConfigError

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v",
                    ".flv", ".wmv", ".ogv", ".3gp"}
SOURCES = ("corpus", "folder", "kinetics")


@dataclass
class VideoEntry:
    """One video a clip can come from.

    ``segments`` are the usable ``[start, end)`` frame ranges (shots); None until the
    video is first probed (folder and Kinetics sources are not probed up front, so that
    pointing at 400 000 videos starts at once).
    """

    path: str
    source: str
    segments: list[tuple[int, int]] | None = None
    fps: float | None = None
    label: str | None = None
    start_s: float = 0.0
    end_s: float | None = None
    has_audio: bool | None = None
    group: str = ""  # same person or scene ("" = its own source): never blended together

    @property
    def scene(self) -> str:
        return self.group or self.source


# -- sources ---------------------------------------------------------------------------


def corpus_entries(root: str | os.PathLike | None = None, split: str = "train") -> list[VideoEntry]:
    from centrifuge.data.corpus import Corpus

    corpus = Corpus.load(root)
    entries = [
        VideoEntry(
            path=str(corpus.path(c)),
            source=c["id"],
            segments=[tuple(s) for s in c["shots"]],
            fps=c["fps"],
            has_audio=bool(c["audio"]) and c["audio"]["kind"] != "silent",
            group=c.get("group", c["id"]),
        )
        for c in corpus.split(split)
    ]
    if not entries:
        raise ConfigError(f"the corpus at {corpus.root} has no {split!r} clips")
    return entries


def folder_entries(folder: str | os.PathLike) -> list[VideoEntry]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder of videos")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not paths:
        raise ConfigError(f"{folder}: no video files found (looked for {sorted(VIDEO_EXTENSIONS)})")
    return [VideoEntry(path=str(p), source=str(p.relative_to(folder))) for p in paths]


def kinetics_entries(path: str | os.PathLike) -> list[VideoEntry]:
    path = Path(path)
    if path.is_dir():
        entries = []
        for class_dir in sorted(p for p in path.iterdir() if p.is_dir()):
            for video in sorted(class_dir.iterdir()):
                if video.suffix.lower() in VIDEO_EXTENSIONS:
                    entries.append(VideoEntry(str(video), f"{class_dir.name}/{video.name}",
                                              label=class_dir.name))
        if not entries:
            raise ConfigError(f"{path}: no class folders with videos (Kinetics layout)")
        return entries
    if not path.is_file():
        raise ConfigError(f"{path}: neither a Kinetics CSV nor a folder")
    entries = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); save the CSV as UTF-8"
                          ) from None
    except OSError as e:
        raise ConfigError(f"{path}: unreadable ({e.strerror})") from None
    for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1):
        if not row or row[0].strip().lower() == "path":
            continue
        if len(row) not in (2, 4):
            raise ConfigError(f"{path}:{n}: expected path,label[,start,end], got {row}")
        video = Path(row[0].strip())
        video = video if video.is_absolute() else path.parent / video
        try:
            start, end = (float(row[2]), float(row[3])) if len(row) == 4 else (0.0, None)
        except ValueError:
            raise ConfigError(f"{path}:{n}: start and end must be seconds, got {row[2:]}"
                              ) from None
        entries.append(VideoEntry(str(video), f"{video}@{start}", label=row[1].strip(),
                                  start_s=start, end_s=end))
    if not entries:
        raise ConfigError(f"{path}: the CSV lists no videos")
    return entries


def make_entries(source: str, root: str | None, split: str = "train") -> list[VideoEntry]:
    """Entries of one of :data:`SOURCES`; ``root`` is the corpus root, folder or CSV."""
    if source == "corpus":
        return corpus_entries(root, split)
    if root is None:
        raise ConfigError(f"data source {source!r} needs a root (folder or CSV path)")
    if source == "folder":
        return folder_entries(root)
    if source == "kinetics":
        return kinetics_entries(root)
    raise ConfigError(f"unknown data source {source!r}; valid: {', '.join(SOURCES)}")


