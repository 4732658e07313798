"""A throwaway PostgreSQL server for the tests and the benchmark: the machine's own
``initdb`` / ``pg_ctl`` in a temporary folder, on a free loopback port, stopped after.

``make test`` installs Debian's ``postgresql`` when it is missing (``make postgres``).
``initdb`` refuses to run as root, so as root the server runs as the ``postgres``
user that package creates (through ``runuser``); its folder is made in the system's
temporary directory and handed to that user. :func:`unavailable` says why no server
can be started (then the tests skip, saying so).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "warrantd"


def _bindir() -> Path | None:
    """The folder of the newest installed PostgreSQL server's programs."""
    for candidate in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2])
    )[::-1]:
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _run_as() -> list[str]:
    """As root: run the server's programs as the unprivileged ``postgres`` user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def unavailable() -> str | None:
    """Why no server can be started here, or None when one can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg 3 is not installed (pip install -e '.[postgres]'; make install does it)"
    if _bindir() is None:
        return (
            "no PostgreSQL server programs (initdb, pg_ctl) on this machine, and none could "
            "be installed (`make postgres` installs Debian's postgresql when run as root)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no unprivileged 'postgres' user to run initdb"
        if shutil.which("runuser") is None:
            return "running as root and there is no runuser to start the server as 'postgres'"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One running server; :meth:`dsn` of a database on it, :meth:`restart`, :meth:`stop`."""

    def __init__(self) -> None:
        bindir = _bindir()
        assert bindir is not None, unavailable()
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="warrantd-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        )
        conf = "\n".join(
            [
                "listen_addresses = '127.0.0.1'",
                f"port = {self.port}",
                f"unix_socket_directories = '{self.folder}'",
                "max_connections = 100",
                "shared_buffers = 32MB",
                "fsync = on",  # the durability tests rely on it; say it rather than assume
                "synchronous_commit = on",
                "logging_collector = off",
            ]
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write("\n" + conf + "\n")
        self.start()

    def _pg(self, program: str, *args: str) -> None:
        subprocess.run(
            [*_run_as(), str(self.bindir / program), *args],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.folder,
        )

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop (``immediate``: as a crash, no shutdown checkpoint) and start again."""
        self.stop(mode)
        self.start()

    def dsn(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its DSN."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def close(self) -> None:
        # Immediate: the data folder is deleted next, so the shutdown checkpoint a fast stop
        # writes (every database the session created, fsynced) would be wasted time.
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
