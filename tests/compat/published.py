"""The published packages, fetched at test time: throwaway venvs and sdist test suites.

Nothing published is copied into this repository. The first run installs
``warrantd==0.1.0`` and ``warrantd-core==0.3.0`` from the package index into
virtual environments under ``.cache/published-venvs/`` and downloads their
source distributions into ``.cache/published-sdists/`` (both gitignored); later
runs reuse them. A file lock keeps parallel test sessions from building the
same thing twice.

An unreachable index fails the tests with a message saying so; set
``WARRANTD_OFFLINE=1`` to skip them instead (for working offline, never in CI).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
WORKER = Path(__file__).with_name("worker.py")


@dataclass(frozen=True)
class Published:
    """One published distribution that ships the ``warrantd`` import package."""

    distribution: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    @property
    def slug(self) -> str:
        return f"{self.distribution}-{self.version}"


V010 = Published("warrantd", "0.1.0")
CORE030 = Published("warrantd-core", "0.3.0")
PUBLISHED = (V010, CORE030)


def offline_or_fail(message: str) -> None:
    """Skip when WARRANTD_OFFLINE=1 is set, else fail: CI must not pass silently."""
    if os.environ.get("WARRANTD_OFFLINE") == "1":
        pytest.skip(f"WARRANTD_OFFLINE=1: {message}")
    pytest.fail(
        f"{message}\nThe compatibility tests need the package index (PyPI) on first run; "
        "set WARRANTD_OFFLINE=1 to skip them when working offline.",
        pytrace=False,
    )


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """An exclusive lock across processes (parallel sessions, xdist workers)."""
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def child_env() -> dict[str, str]:
    """The environment for child interpreters: ours, minus anything that redirects imports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV_CORE"))}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def ours_env() -> dict[str, str]:
    """:func:`child_env` for a child that must import *our* warrantd from this tree, also
    when the interpreter's venv has another checkout installed (a git worktree sharing
    the main venv)."""
    env = child_env()
    env["PYTHONPATH"] = str(ROOT)
    return env


def _run(cmd: list[str], what: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=child_env(), timeout=600, **kw
        )
    except subprocess.TimeoutExpired:
        offline_or_fail(f"{what}: timed out after 600 s")
        raise  # unreachable: offline_or_fail raises
    if done.returncode != 0:
        offline_or_fail(f"{what} failed (exit {done.returncode}):\n{done.stderr.strip()[-2000:]}")
    return done


def venv_python(pkg: Published) -> Path:
    """The interpreter of a venv holding ``pkg`` from the index (built once, cached)."""
    home = CACHE / "published-venvs" / pkg.slug
    python = home / "bin" / "python"
    marker = home / ".installed"
    with locked("published-venvs"):
        if marker.exists() and marker.read_text() == pkg.requirement and python.exists():
            return python
        shutil.rmtree(home, ignore_errors=True)
        home.parent.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", "--without-pip", str(home)], f"venv for {pkg.slug}")
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--quiet",
                pkg.requirement,
            ],
            f"pip install {pkg.requirement} from the package index",
        )
        check = _run(
            [
                str(python),
                "-c",
                "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))",
                pkg.distribution,
            ],
            f"checking {pkg.slug}",
        )
        if check.stdout.strip() != pkg.version:
            pytest.fail(f"{pkg.slug}: the venv holds version {check.stdout.strip()!r}")
        marker.write_text(pkg.requirement)
    return python


def sdist_tests(pkg: Published) -> Path:
    """A directory holding only the ``tests/`` of ``pkg``'s sdist (fetched once, cached).

    Only the tests are extracted, never the package, so ``import warrantd`` in
    them finds the package installed in the running interpreter.
    """
    suite = CACHE / "published-suites" / pkg.slug
    marker = suite / ".extracted"
    with locked("published-suites"):
        if marker.exists() and marker.read_text() == pkg.requirement:
            return suite
        shutil.rmtree(suite, ignore_errors=True)
        downloads = CACHE / "published-sdists" / pkg.slug
        shutil.rmtree(downloads, ignore_errors=True)
        downloads.mkdir(parents=True)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(downloads),
                pkg.requirement,
            ],
            f"pip download --no-binary :all: {pkg.requirement} from the package index",
        )
        (archive,) = downloads.glob("*.tar.gz")
        suite.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                # <name>-<version>/tests/<file>: regular files directly from the archive.
                if len(parts) < 3 or parts[1] != "tests" or not member.isfile():
                    continue
                if any(p in ("..", "") or p.startswith("/") for p in parts):
                    continue
                target = suite.joinpath(*parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
        if not any((suite / "tests").glob("test_*.py")):
            pytest.fail(f"{archive.name} holds no tests/test_*.py")
        marker.write_text(pkg.requirement)
    return suite


class Worker:
    """One ``worker.py`` process: a JSON line in, a JSON line out."""

    def __init__(self, python: Path | str, label: str) -> None:
        self.label = label
        CACHE.mkdir(exist_ok=True)
        # stderr to a file: a pipe nobody reads could fill up and stall the worker.
        self.log = CACHE / f"worker-{label}.log"
        self._err = open(self.log, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [str(python), str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            encoding="utf-8",
            cwd=str(CACHE),
            env=self._env(label),
        )

    @staticmethod
    def _env(label: str) -> dict[str, str]:
        return ours_env() if label == "ours" else child_env()

    def ask(self, case: dict[str, Any]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self._err.flush()
            raise RuntimeError(f"worker {self.label} died:\n{self.log.read_text()[-3000:]}")
        answer = json.loads(line)
        if "harness_error" in answer:
            raise RuntimeError(f"worker {self.label}:\n{answer['harness_error']}")
        return answer

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err.close()
