"""The ``warrantd`` command line: parse arguments, call the library, print.

Every command is a thin door onto a library call (:mod:`warrantd.cli.commands`);
nothing here computes a figure. This module is the process boundary:

* **Exit codes**: 0 done; 2 bad input (a project error, :class:`~warrantd.errors.InputError`,
  or an ``OSError`` on a file), printed as one line (a summary and one indented
  line per problem when there are more than three), no traceback unless
  ``--debug``; 130 interrupted (Ctrl-C); 1 an internal error (a bug: the
  traceback is printed, with a line saying so).
* **Nothing on stdout from a command that fails**: commands hand their output
  to :func:`emit`, which holds it until the command has succeeded.
* **Three channels**: :func:`emit` is the command's output (stdout, or stderr for
  a figure beside machine-read stdout); :func:`warn` is a warning about the data
  or the options (stderr, always); :func:`note` is a "wrote ..." note or hint
  (stderr, dropped by ``-q``). ``-q`` reaches only :func:`note` and
  :func:`progress`, so no command can silence a warning with it.
* **Ctrl-C**: SIGINT sets :data:`warrantd._io.INTERRUPTED` and raises
  ``KeyboardInterrupt``; every file commit checks the flag, so even an
  interrupt some library swallowed stops the output from being written.
* **Lazy imports**: this module needs only the standard library; click loads
  when a command is parsed, pandas and the kit only when a command needs them,
  matplotlib and Jinja2 only for charts and the report. A core-only install
  (no ``analytics`` extra) gets a one-line message saying what to install.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from .._io import INTERRUPTED

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
    "emit",
    "main",
    "note",
    "progress",
    "set_quiet",
    "warn",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
#: A closed pipe on stdout, as a shell reports a process ended by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141
#: Modules of the ``analytics`` extra: without them the kit's commands cannot run.
EXTRA_MODULES = ("click", "pandas", "numpy", "matplotlib", "pyarrow", "jinja2", "tqdm")
INSTALL_HINT = "pip install 'warrantd[analytics]'"
#: The command line itself needs only click: its own extra, for hosts that run the gate.
CLI_INSTALL_HINT = "pip install 'warrantd[cli]'"

_pending: list[tuple[str, bool]] = []
#: ``-q`` on the command line: read by :func:`note` and :func:`progress` only.
_quiet = False


def emit(text: str, *, err: bool = False) -> None:
    """Queue ``text`` (a line or a block) for stdout, or stderr with ``err``; printed on success.

    Warnings (:func:`warn`) and notes (:func:`note`) are queued here too, so that the
    order of what a user reads is the order it happened in.
    """
    _pending.append((text, err))


def warn(text: str) -> None:
    """Queue a warning about the data or the options for stderr: always shown, ``-q`` or not."""
    _pending.append((text, True))


def note(text: str) -> None:
    """Queue a "wrote ..." note or a hint for stderr, unless ``-q`` was given."""
    if not _quiet:
        _pending.append((text, True))


def set_quiet(quiet: bool) -> None:
    """Record ``-q`` for :func:`note` and :func:`progress` (the option's callback sets it)."""
    global _quiet
    _quiet = quiet


def progress() -> bool:
    """Whether progress bars may be drawn: not under ``-q`` (and only on a terminal)."""
    return not _quiet


def _flush() -> None:
    # A reader of stdout that went away (`| head`) still leaves the warnings and notes
    # meant for stderr to be said; the broken pipe is raised after them.
    broken: BrokenPipeError | None = None
    for text, err in _pending:
        line = text if text.endswith("\n") else text + "\n"
        if err:
            sys.stderr.write(line)
        elif broken is None:
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except BrokenPipeError as exc:
                broken = exc
    _pending.clear()
    if broken is not None:
        raise broken


def _on_sigint(signum: int, frame: Any) -> None:
    INTERRUPTED.set()
    raise KeyboardInterrupt


def _say(message: str) -> None:
    sys.stderr.write(f"warrantd: {message}\n")
    sys.stderr.flush()


def _missing_extra(exc: ModuleNotFoundError) -> bool:
    return (exc.name or "").split(".")[0] in EXTRA_MODULES


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``warrantd`` console script."""
    INTERRUPTED.clear()
    signal.signal(signal.SIGINT, _on_sigint)
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is taken anywhere on the line, before or after the command.
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    _pending.clear()
    set_quiet(False)
    try:
        from .commands import run

        code = run(args, debug=debug)
        if INTERRUPTED.is_set():  # swallowed somewhere: still an interrupted run
            raise KeyboardInterrupt
        _flush()
    except KeyboardInterrupt:
        _pending.clear()
        _say("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except ModuleNotFoundError as exc:
        if debug or not _missing_extra(exc):
            raise
        if (exc.name or "").split(".")[0] == "click":
            _say(
                f"error: the warrantd command needs the cli extra (click is missing): "
                f"{CLI_INSTALL_HINT}"
            )
        else:
            _say(
                f"error: this command needs the analytics extra ({exc.name} is missing): "
                f"{INSTALL_HINT}"
            )
        sys.exit(EXIT_BAD_INPUT)
    except BrokenPipeError:
        # The reader went away (`warrantd forecast ... | head`): nothing to say to it.
        # Point stdout at /dev/null so the interpreter's own final flush stays quiet.
        _pending.clear()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    except SystemExit:
        raise
    except BaseException as exc:  # the process boundary: classify everything
        _pending.clear()
        code = _report_error(exc, debug)
    sys.exit(code)


def _report_error(exc: BaseException, debug: bool) -> int:
    from ..errors import InputError, MissingExtraError

    if isinstance(exc, MissingExtraError):  # a setup step, with or without --debug
        if debug:
            traceback.print_exc()
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    if isinstance(exc, InputError | OSError) and not debug:
        _say(f"error: {_describe(exc)}")
        return EXIT_BAD_INPUT
    if isinstance(exc, InputError | OSError):
        traceback.print_exc()
        return EXIT_BAD_INPUT
    traceback.print_exc()
    _say(
        f"internal error: {type(exc).__name__} is a bug in warrantd, not a problem with "
        "your input; please report it with the traceback above"
    )
    return EXIT_INTERNAL


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not str(exc).startswith(str(exc.filename or "\0")):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc)
