"""Where outputs go, and how they get there without ever losing a file.

The one place that derives and checks output paths. Three rules hold for every file or
folder a command writes:

* **Names from inputs are made safe.** A name taken from an input (a video's stem, a
  checkpoint's stem) has path separators and control characters replaced, leading dots
  removed (so ``..``, ``.`` and hidden names cannot occur) and is cut to
  :data:`MAX_NAME_BYTES`; the folder it names is always a direct child of its parent.
* **Write, then rename.** Content goes to a hidden ``.<name>.partial-<pid>`` beside the
  target and is renamed into place only when complete, so a failure leaves the old file
  (or nothing) behind. A partial left by a process that died (SIGKILL, power loss) is
  removed by the next command that writes beside it; a live process's is left alone.
* **Never over an input, never more than ours.** An output that is one of the command's
  inputs is refused before any work; ``--force`` replaces only a folder that holds
  nothing but files this command writes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from centrifuge.errors import CentrifugeError, OutputExistsError, VideoWriteError

MAX_NAME_BYTES = 120  # room for ".partial-<pid>" and ".lock" under the usual 255
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\\ud800-\udfff]")  # surrogates: undecodable bytes
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.(?:partial|old)-(?P<pid>\d+)(?:\.\w+)?$")


def safe_name(text: str, fallback: str = "video") -> str:
    """A file name made from ``text`` that cannot leave its folder (see module doc)."""
    name = _UNSAFE.sub("_", text).strip().lstrip(".").strip()
    encoded = name.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        name = encoded[:MAX_NAME_BYTES].decode("utf-8", errors="ignore").rstrip()
    return name or fallback


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OverflowError:
        return False
    return True


def _lock_owner(entry: Path) -> int | None:
    """The pid in a ``.<name>.lock`` file of :class:`OutputFolder`; None if it is not one
    or is still being written (empty)."""
    if not (entry.name.startswith(".") and entry.name.endswith(".lock")) or not entry.is_file():
        return None
    try:
        text = entry.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def clean_stale_partials(folder: Path) -> list[Path]:
    """Remove ``.<name>.partial-<pid>`` / ``.old-<pid>`` entries and ``.<name>.lock``
    claims whose process is gone (a run killed with SIGKILL leaves them)."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        pid = int(m["pid"]) if m else _lock_owner(entry)
        if pid is None or pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def _describe_oserror(e: OSError, path: Path) -> str:
    reasons = {
        errno.EROFS: "is on a read-only file system",
        errno.EACCES: "is not writable (permission denied)",
        errno.EPERM: "is not writable (permission denied)",
        errno.ENOSPC: "has no free space left",
        errno.ENOTDIR: "has a path component that is a file, not a folder",
        errno.ENAMETOOLONG: "has a name that is too long",
        errno.EEXIST: "exists and is not a folder",
    }
    return f"{path}: {reasons.get(e.errno, e.strerror or type(e).__name__)}"


def make_folder(path: Path) -> list[Path]:
    """``mkdir -p`` that returns the folders it created (to remove them on failure) and
    turns file-system refusals into one clear line."""
    created = []
    missing = []
    p = path
    while not p.exists() and not p.is_symlink():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if p.exists() and not p.is_dir():
        raise VideoWriteError(f"{p} is a file, not a folder; choose another output folder")
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            remove_empty(created)
            raise VideoWriteError(
                f"cannot create {folder}: {_describe_oserror(e, folder).split(': ', 1)[1]}; "
                "choose another output folder"
            ) from None
        created.append(folder)
    return created


def remove_empty(folders: Iterable[Path]) -> None:
    """Remove the given folders (deepest first) if they are empty; never anything else."""
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(path: str | os.PathLike, *, inputs: Iterable = (), flag: str = "") -> Path:
    """Check, before any work, that ``path`` can be written: its folder exists, it is not
    a folder itself and it is none of ``inputs``."""
    path = Path(path)
    what = f"{flag} {path}" if flag else str(path)
    for source in inputs:
        if source is not None and (_same_file(path, Path(source))
                                   or path.resolve() == Path(source).resolve()):
            raise OutputExistsError(f"{what} is an input of this command; write elsewhere")
    if path.is_dir():
        raise OutputExistsError(f"{what} is a folder; name a file inside it")
    parent = path.parent
    if not parent.is_dir():
        kind = "is a file" if parent.exists() else "does not exist"
        raise VideoWriteError(f"{what}: folder {parent} {kind}; create it or write elsewhere")
    if not os.access(parent, os.W_OK):
        raise VideoWriteError(f"{what}: folder {parent} is not writable; write elsewhere")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; rename it into place on success,
    remove it on any failure."""
    path = Path(path)
    clean_stale_partials(path.parent)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise VideoWriteError(f"writing {_describe_oserror(e, path)}; write elsewhere") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """UTF-8 text, written whole or not at all. Bytes of a file name that are not UTF-8
    (they reach Python as surrogates) are written as ``\\udcXX`` escapes."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
    return Path(path)


class OutputFolder:
    """A claim on ``<parent>/<name>/``: work happens in a hidden partial folder that
    replaces the target only when complete.

    Two commands writing the same folder at once: the second is refused (a ``.lock``
    holding the first one's pid). ``owned`` names the entries this command writes: with
    ``force`` an existing folder is replaced only if it holds nothing else.

    Example:
        >>> claim = OutputFolder(root / "m" / "clip", owned=is_ours)  # doctest: +SKIP
        >>> with claim as work:                                       # doctest: +SKIP
        ...     (work / "summary.json").write_text("{}")
    """

    def __init__(self, final: Path, *, owned, force: bool = False, inputs: Iterable = ()):
        self.final = Path(final)
        self.owned = owned
        self.force = force
        self.inputs = [Path(p) for p in inputs]
        self.work = self.final.parent / f".{self.final.name}.partial-{os.getpid()}"
        self.lock = self.final.parent / f".{self.final.name}.lock"
        self._created: list[Path] = []
        self._locked = False

    def check(self) -> None:
        """Refusals that need no writing: existing target, input inside it, foreign files."""
        final = self.final
        if final.is_symlink() or (final.exists() and not final.is_dir()):
            raise OutputExistsError(f"{final} exists and is not a folder this command wrote; "
                                    "move it or choose another -o")
        for source in self.inputs:
            if source.resolve().is_relative_to(final.resolve()):
                raise OutputExistsError(
                    f"{final} holds the input {source}; move the input or choose another -o")
        if not final.exists():
            return
        if not self.force:
            raise OutputExistsError(f"{final} already exists; pass --force to replace it")
        foreign = sorted(p.name for p in final.iterdir() if not self.owned(p))
        if foreign:
            raise OutputExistsError(
                f"{final} holds files this command did not write ({', '.join(foreign[:3])}); "
                "--force replaces only its own outputs: move them or choose another -o")

    def __enter__(self) -> Path:
        self.check()
        self._created = make_folder(self.final.parent)
        try:
            clean_stale_partials(self.final.parent)
            self._take_lock()
            self.work.mkdir()
        except BaseException:
            self._release()
            raise
        return self.work

    def _take_lock(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid_alive(pid):
                    raise OutputExistsError(
                        f"another centrifuge (pid {pid}) is writing {self.final}; wait for "
                        "it to finish or choose another -o") from None
                with contextlib.suppress(OSError):
                    self.lock.unlink()  # its owner is gone
                continue
            except OSError as e:
                raise VideoWriteError(
                    f"cannot write in {_describe_oserror(e, self.final.parent)}; "
                    "choose another output folder") from None
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self._locked = True
            return
        raise OutputExistsError(f"{self.lock}: cannot claim {self.final}; try again")

    def __exit__(self, exc_type, exc, tb) -> None:
        done = False
        try:
            if exc_type is None:
                self._commit()
                done = True
        finally:
            self._release(failed=not done)

    def _commit(self) -> None:
        self.check()  # the folder may have appeared while we worked
        old = None
        try:
            if self.final.exists():
                old = self.final.parent / f".{self.final.name}.old-{os.getpid()}"
                os.replace(self.final, old)
            os.replace(self.work, self.final)
        except OSError as e:
            raise VideoWriteError(f"finishing {_describe_oserror(e, self.final)}") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _release(self, failed: bool = True) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        if self._locked:
            with contextlib.suppress(OSError):
                self.lock.unlink()
            self._locked = False
        if failed:
            remove_empty(self._created)


def write_error(e: OSError) -> CentrifugeError:
    """An :class:`OSError` met while writing, as the one-line error the CLI prints."""
    path = Path(e.filename) if e.filename else Path("output")
    return VideoWriteError(f"writing {_describe_oserror(e, path)}; check free space and "
                           "permissions, or write elsewhere")
