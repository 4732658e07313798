"""The ``warrantd`` console script's first step: take Ctrl-C before anything else loads.

A top-level module on purpose: importing ``warrantd.cli`` first imports the
``warrantd`` package, and an interrupt during those imports would end in a
traceback. From here to the moment :func:`warrantd.cli.main` installs its own
handler, Ctrl-C prints one line and exits 130, with nothing written.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, NoReturn

__all__ = ["main"]


def _interrupted_while_starting(signum: int, frame: Any) -> None:
    sys.stderr.write("warrantd: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


def main() -> NoReturn:
    """Entry point of the ``warrantd`` console script."""
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from warrantd.cli import EXIT_INTERRUPTED
    from warrantd.cli import main as run

    try:
        run()
    except SystemExit as done:
        if done.code != EXIT_INTERRUPTED:
            # The work is finished and its outcome printed: a Ctrl-C during the
            # interpreter's shutdown changes nothing and must not turn the exit
            # status into "killed by SIGINT".
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise
        # End here rather than through the interpreter: a KeyboardInterrupt that passed
        # through an exec() on its way to the handler (dataclasses build methods with
        # exec) leaves CPython marked to end by SIGINT at exit, which turns 130 into -2.
        # Every output is finished or rolled back by now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
