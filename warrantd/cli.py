"""The ``warrantd`` command line: argument handling and printing only.

Every command is a thin door onto a library call. Bad input (a missing file,
an invalid policy or history, an unknown option) prints one line naming the
problem to stderr and exits 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from . import __version__
from .graduation import ceiling
from .policyfile import PolicyError, load_policy

EXIT_BAD_INPUT = 2


class BadInput(click.ClickException):
    """An input problem reported as one line on stderr, exit code 2."""

    exit_code = EXIT_BAD_INPUT


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` folded onto a single line."""
    parts = [p.strip().removeprefix("- ") for p in str(exc).splitlines() if p.strip()]
    return "; ".join(parts) or type(exc).__name__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="warrantd")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """warrantd: gate agent actions and tune how they earn autonomy."""
    ctx.obj = {"debug": debug}


@cli.command()
@click.argument("policy", type=click.Path(dir_okay=False))
def validate(policy: str) -> None:
    """Check a TOML policy file and summarise it.

    \b
    Example:
      warrantd validate datasets/billing-agent.policy.toml
    """
    loaded = load_policy(policy)
    t = loaded.thresholds
    click.echo(f"{policy}: valid policy with {len(loaded.actions)} action classes")
    for state in sorted(t.pass_rate):
        click.echo(
            f"  {state.name:<10} pass_rate >= {t.pass_rate[state]:.2f}  "
            f"adversarial >= {t.adversarial_pass_rate[state]:.2f}  "
            f"samples >= {t.min_samples[state]}"
        )
    for name, action in loaded.actions.items():
        caps = ", ".join(
            f"{cap}={getattr(action, cap)}"
            for cap in ("auto_cap", "hard_cap")
            if getattr(action, cap) is not None
        )
        click.echo(
            f"  {name}: {action.risk.name.lower()}, ceiling {ceiling(action).name}"
            + (f", {caps}" if caps else "")
        )


_EXPECTED_ERRORS: tuple[type[BaseException], ...] = (PolicyError, OSError, ValueError, KeyError)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``warrantd`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="warrantd", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("warrantd: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        if debug:
            raise
        click.echo(f"warrantd: error: {one_line(Exception(exc.format_message()))}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except _EXPECTED_ERRORS as exc:
        if debug:
            raise
        message = one_line(exc).strip("\"'") if isinstance(exc, KeyError) else one_line(exc)
        click.echo(f"warrantd: error: {message}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
