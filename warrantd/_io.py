"""Writing files without losing anything: one atomic write, one file mode.

Every file warrantd writes goes through this module:

* :func:`atomic_write` writes to a temporary file in the destination's own
  directory, flushes it to disk, gives it the mode of a new file under the
  process umask (``0o666 & ~umask``: the same mode ``open(path, "w")`` would
  give) and renames it over the destination. A reader sees the old file or the
  new one, never half of one; an interrupted write leaves the old file whole
  and no temporary file behind.
* :func:`check_destination` is called *before* the work starts, so a run that
  cannot write its output fails in a second, not after the sweep. It refuses to
  replace an existing file unless asked to, and proves the directory writable
  by creating (and removing) a temporary file in it.
* :func:`require_folder` refuses a file path in a folder that does not exist (a
  typo leaves no new folders behind), for files a user names.
* :class:`OwnedDirectory` is a folder of files warrantd wrote (a report). It
  carries a manifest (:data:`MANIFEST`) of the files it wrote and their
  SHA-256. Only files listed in the previous manifest are ever replaced or
  removed; a non-empty folder without a manifest is refused unless ``force``,
  and even then the user's files are left alone. The new files are staged
  completely, then renamed into place with SIGINT and SIGTERM held back, so
  Ctrl-C leaves the previous report whole.
* :data:`INTERRUPTED` is a cooperative flag a front end sets on SIGINT; every
  commit checks it, so an interrupt that some library swallowed still stops
  the output from being written.

Stdlib only: the core and the kit share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "INTERRUPTED",
    "MANIFEST",
    "OutputError",
    "OwnedDirectory",
    "atomic_write",
    "check_destination",
    "file_mode",
    "raise_if_interrupted",
    "read_toml",
    "require_folder",
    "write_bytes",
    "write_text",
]

#: The manifest file of a folder warrantd wrote.
MANIFEST = "warrantd-manifest.json"
_STAGING_PREFIX = ".warrantd-staging-"
#: Set by a front end (the CLI's SIGINT handler) when the user interrupted the run.
INTERRUPTED = threading.Event()


class OutputError(InputError):
    """An output destination that cannot or must not be written."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(str(path), [problem])


def read_toml(path: str | os.PathLike[str], what: str) -> tuple[dict[str, Any] | None, str]:
    """Read a TOML file: ``(data, "")``, or ``(None, why)`` with the one wording every
    TOML input (policy, sweep grid, log mapping) uses; ``what`` names the kind of file.
    A UTF-8 byte-order mark (as some Windows editors write) is skipped."""
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
        return tomllib.loads(text.removeprefix("\ufeff")), ""
    except FileNotFoundError:
        return None, "no such file"
    except IsADirectoryError:
        return None, f"is a directory, not a {what}"
    except UnicodeDecodeError as exc:
        byte = f"byte {exc.object[exc.start]:#04x} at offset {exc.start}"
        return None, f"not a UTF-8 text file ({byte})"
    except tomllib.TOMLDecodeError as exc:
        return None, f"not valid TOML: {exc}"
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when :data:`INTERRUPTED` is set."""
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


def file_mode() -> int:
    """The mode a new file gets under the current umask: ``0o666 & ~umask``."""
    return 0o666 & ~_umask()


def _umask() -> int:
    # Reading the umask by setting it races with other threads creating files;
    # Linux reports it in /proc, so use that where it exists.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the few renames of a commit (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file that then replaces it.

    The parent directory is created when missing. See the module docstring.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _fsync_file(tmp)
        tmp.chmod(file_mode())
        with deferred_signals():
            raise_if_interrupted()
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def _probe_directory(directory: Path, shown: str | os.PathLike[str]) -> None:
    """Prove ``directory`` (or the ancestor it will be made in) takes new files."""
    existing = directory
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(shown, f"cannot be written: {str(existing)!r} is not a directory")
    try:
        fd, name = tempfile.mkstemp(dir=existing, prefix=".warrantd-probe-")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(
            shown, f"cannot be written: no new file can be made in {str(existing)!r} ({reason})"
        ) from None
    os.close(fd)
    os.unlink(name)


def check_destination(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    how_to_replace: str = "pass --force to replace it",
) -> Path:
    """Check, before any work, that ``path`` can be written as a new (or replaced) file.

    Raises :class:`OutputError` when ``path`` is a directory, when it exists and
    ``overwrite`` is false, or when its directory does not take new files.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(path, "is a directory (expected a file name)")
    if target.exists() and not overwrite:
        raise OutputError(path, f"already exists ({how_to_replace})")
    _probe_directory(target.parent, path)
    return target


def require_folder(path: str | os.PathLike[str]) -> None:
    """Refuse a file path whose folder is missing, as ``cp`` does (:class:`OutputError`:
    "its folder ... does not exist; create it first"): a typo in a path would otherwise
    leave a new tree of folders behind, unannounced, since :func:`atomic_write` makes
    them. For a file the user names (``--out FILE``, the tuner's save path)."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        shown = os.path.dirname(path) or parent
        raise OutputError(path, f"its folder {shown!r} does not exist; create it first")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OwnedDirectory:
    """A folder of files that warrantd writes and keeps a manifest of.

    Construct it (:meth:`prepare`) before the work starts: that checks the
    folder can be written and that nothing the user owns would be touched.
    :meth:`commit` then writes the new set of files. See the module docstring.
    """

    def __init__(self, path: Path, generator: str, previous: dict[str, str]) -> None:
        self.path = path
        self.generator = generator
        self.previous = previous

    @classmethod
    def prepare(
        cls,
        path: str | os.PathLike[str],
        *,
        generator: str,
        force: bool = False,
        may_write: Callable[[str], bool] = lambda name: False,
    ) -> OwnedDirectory:
        """Check ``path`` may hold files written by ``generator``; raise :class:`OutputError`.

        ``may_write(name)`` says which names the generator may write, so that a user's
        file of such a name is found now, before the work, not at the commit.
        A file warrantd wrote and the user has since changed is theirs: it is never
        replaced, not even with ``force``.
        """
        out = Path(path)
        if out.exists() and not out.is_dir():
            raise OutputError(path, "exists and is not a directory")
        previous: dict[str, str] = {}
        if out.is_dir():
            previous = _read_manifest(out / MANIFEST, path)
            entries = sorted(
                name
                for name in os.listdir(out)
                if name != MANIFEST and not name.startswith(_STAGING_PREFIX)
            )
            edited = [
                name
                for name, digest in previous.items()
                if (out / name).is_file() and _sha256(out / name) != digest
            ]
            if edited:
                raise OutputError(
                    path,
                    f"{edited[0]!r} was changed since warrantd wrote it, so it is yours now and "
                    "is never replaced: move it away, or choose another folder",
                )
            foreign = [name for name in entries if name not in previous]
            colliding = [name for name in foreign if may_write(name)]
            if colliding:
                raise OutputError(
                    path,
                    f"holds {colliding[0]!r}, which warrantd did not write and would replace; "
                    "move it away, or choose another folder",
                )
            if foreign and not force:
                shown = ", ".join(repr(n) for n in foreign[:3])
                more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
                raise OutputError(
                    path,
                    f"is not empty and holds files warrantd did not write ({shown}{more}); "
                    "choose an empty or new folder, or pass --force to write beside them",
                )
        _probe_directory(out, path)
        return cls(out, generator, previous)

    def commit(self, files: Mapping[str, bytes]) -> list[str]:
        """Write ``files`` (name -> bytes) into the folder; return the names written.

        Files of the previous manifest that are not in ``files`` are removed;
        files not in it are never touched (a name that collides with one is an
        error, before anything is written).
        """
        out = self.path
        for name in files:
            if name != Path(name).name or name in (MANIFEST, "", ".", ".."):
                raise ValueError(f"not a plain file name: {name!r}")
            if (out / name).exists() and name not in self.previous:
                raise OutputError(
                    out,
                    f"would replace {name!r}, which warrantd did not write; "
                    "move it or choose another folder",
                )
        made = _missing_ancestors(out)
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out))
        committed = False
        try:
            mode = file_mode()
            digests = {}
            for name, data in files.items():
                staged = staging / name
                staged.write_bytes(data)
                _fsync_file(staged)
                staged.chmod(mode)
                digests[name] = hashlib.sha256(data).hexdigest()
            manifest = {
                "generator": self.generator,
                "files": dict(sorted(digests.items())),
            }
            staged_manifest = staging / MANIFEST
            staged_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            _fsync_file(staged_manifest)
            staged_manifest.chmod(mode)
            with deferred_signals():
                raise_if_interrupted()
                for name in files:
                    os.replace(staging / name, out / name)
                for name in self.previous:
                    if name not in files:
                        (out / name).unlink(missing_ok=True)
                os.replace(staged_manifest, out / MANIFEST)
            committed = True
        finally:
            for leftover in staging.iterdir():
                leftover.unlink()
            staging.rmdir()
            if not committed:
                # An interrupted first write leaves no trace: the folders this call
                # made are removed again (only while empty, so nothing else is lost).
                for folder in made:
                    try:
                        folder.rmdir()
                    except OSError:
                        break
        self.previous = digests
        return sorted(files)


def _missing_ancestors(path: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` would create for ``path``, deepest first."""
    missing = []
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def _read_manifest(path: Path, shown: str | os.PathLike[str]) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputError(
            shown, f"its {MANIFEST} is not a manifest warrantd can read; remove it by hand"
        ) from None
    # A manifest names plain files in its own folder, nothing else.
    return {k: v for k, v in files.items() if k == Path(k).name and k not in ("", ".", "..")}
