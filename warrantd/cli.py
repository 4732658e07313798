"""The ``warrantd`` command line: argument handling and printing only.

Every command is a thin door onto a library call. Bad input (a missing file,
an invalid policy or history, an unknown option) prints one line naming the
problem to stderr and exits 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

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
    if not parts:
        return type(exc).__name__
    # "file: 3 problems:" heads a list: "file: 3 problems: a; b; c", not "problems:; a".
    head, rest = parts[0], parts[1:]
    if head.endswith(":") and rest:
        return f"{head} {'; '.join(rest)}"
    return "; ".join(parts)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="warrantd")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """warrantd: gate agent actions and tune how they earn autonomy."""
    ctx.obj = {"debug": debug}


WINDOW_HELP = "Graduation window: 'cumulative' (default), a case count like 500, or '30D'."
FORMATS = click.Choice(["table", "csv", "json"])


def parse_window(text: str | None) -> int | str | None:
    """CLI window text: cumulative/none -> None, digits -> a case count, else an offset."""
    if text is None or text.lower() in ("cumulative", "none"):
        return None
    return int(text) if text.isdigit() else text


def _load(policy: str, history: str) -> tuple[Any, Any]:
    from .analytics import load_history

    return load_policy(policy), load_history(history)


def _emit(frame: Any, fmt: str) -> None:
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    else:
        import pandas as pd

        with pd.option_context(
            "display.width",
            200,
            "display.max_columns",
            50,
            "display.max_colwidth",
            70,
            "display.float_format",
            "{:.3f}".format,
        ):
            click.echo(frame.to_string(index=False))


def _write_csv(frame: Any, path: str) -> None:
    from .analytics.history import write_csv

    write_csv(frame, path)
    click.echo(f"wrote {len(frame):,} rows to {path}", err=True)


policy_option = click.option(
    "--policy", "-p", required=True, type=click.Path(dir_okay=False), help="TOML policy file."
)
history_option = click.option(
    "--history",
    "-H",
    required=True,
    type=click.Path(dir_okay=False),
    help="Eval history (.csv, .parquet, .jsonl, .json, optionally .gz).",
)
window_option = click.option("--window", "-w", default=None, help=WINDOW_HELP)
trend_option = click.option(
    "--trend/--no-trend",
    default=True,
    show_default=True,
    help="Move pass rates along each class's recent trend (--no-trend: hold them still).",
)
format_option = click.option(
    "--format",
    "fmt",
    type=FORMATS,
    default="table",
    show_default=True,
    help="How to print the table.",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")


_Command = TypeVar("_Command", bound=Callable[..., Any])


def out_option(what: str) -> Callable[[_Command], _Command]:
    """``--out/-o FILE``: where to write ``what`` as CSV."""
    return click.option(
        "--out",
        "-o",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"Write {what} to this CSV file.",
    )


@cli.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@click.option(
    "--history",
    "-H",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also load this history and check its actions against the policy.",
)
def validate(policy: str, history: str | None) -> None:
    """Check a TOML policy file (and optionally a history against it) and summarise it.

    \b
    Example:
      warrantd validate datasets/billing-agent.policy.toml
      warrantd validate datasets/billing-agent.policy.toml --history datasets/billing-agent.csv
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
    if history is not None:
        from .analytics import load_history, validate_against

        frame = load_history(history)
        coverage = validate_against(frame, loaded)
        click.echo(
            f"{history}: {len(frame):,} rows, {int(frame['n'].sum()):,} cases; "
            f"{coverage.describe()}"
        )
        if not coverage.ok:
            raise BadInput(f"{history}: {coverage.describe()}")


@cli.command()
@policy_option
@history_option
@window_option
@out_option("the full per-timestamp timeline")
@format_option
def replay(policy: str, history: str, window: str | None, out: str | None, fmt: str) -> None:
    """Replay a history under a policy: when each action graduated, what it cost.

    \b
    Example:
      warrantd replay -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --window 30D --out timeline.csv
    """
    from .analytics import replay as run_replay

    pol, hist = _load(policy, history)
    result = run_replay(hist, pol, window=parse_window(window))
    columns = [
        "action",
        "cases",
        "final_state",
        "first_supervised",
        "first_autonomous",
        "cases_while_manual",
        "failures_while_supervised_or_above",
        "demotions",
    ]
    _emit(result.summary if fmt != "table" else result.summary[columns], fmt)
    if out:
        _write_csv(result.timeline, out)


@cli.command()
@policy_option
@history_option
@click.option(
    "--grid",
    "-g",
    required=True,
    type=click.Path(dir_okay=False),
    help="TOML sweep grid: knob = [values].",
)
@window_option
@out_option("the full candidate x action table")
@format_option
@quiet_option
def sweep(
    policy: str, history: str, grid: str, window: str | None, out: str | None, fmt: str, quiet: bool
) -> None:
    """Replay every candidate thresholds of a grid; print the Pareto frontier.

    \b
    Example:
      warrantd sweep -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --grid datasets/billing-agent.grid.toml --out sweep.csv
    """
    from .analytics.sweep import load_grid
    from .analytics.sweep import sweep as run_sweep

    pol, hist = _load(policy, history)
    result = run_sweep(hist, pol, load_grid(grid), window=parse_window(window), progress=not quiet)
    click.echo(
        f"{result.table['candidate'].nunique():,} candidates replayed, "
        f"{result.n_skipped:,} skipped (AUTONOMOUS bar below SUPERVISED); "
        "Pareto frontier:",
        err=True,
    )
    front = result.pareto()
    if fmt == "table":
        from .analytics.sweep import KNOBS

        varied = [k for k in KNOBS if result.table[k].map(repr).nunique() > 1]
        front = front[
            [
                "candidate",
                *varied,
                "approval_burden",
                "failures_while_supervised_or_above",
                "failure_rate_while_supervised_or_above",
                "median_days_to_supervised",
                "median_days_to_autonomous",
            ]
        ]
    _emit(front, fmt)
    if out:
        _write_csv(result.table, out)


@cli.command()
@policy_option
@history_option
@window_option
@click.option("--horizon", default="90D", show_default=True, help="How far ahead, e.g. 90D.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--sims", default=2000, show_default=True, help="Number of simulations.")
@trend_option
@format_option
def forecast(
    policy: str,
    history: str,
    window: str | None,
    horizon: str,
    seed: int,
    sims: int,
    trend: bool,
    fmt: str,
) -> None:
    """Forecast when each action reaches its next state.

    \b
    Example:
      warrantd forecast -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --horizon 90D --seed 1
    """
    from .analytics.forecast import forecast as run_forecast

    pol, hist = _load(policy, history)
    result = run_forecast(
        hist, pol, horizon=horizon, window=parse_window(window), n_sims=sims, seed=seed, trend=trend
    )
    _emit(result.table, fmt)


@cli.command()
@policy_option
@history_option
@click.option(
    "--grid",
    "-g",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML sweep grid (default: a small grid around the policy).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    default="reports/report",
    show_default=True,
    help="Output directory.",
)
@window_option
@click.option("--horizon", default="90D", show_default=True, help="Forecast horizon.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the forecast.")
@trend_option
@click.option("--title", default="warrantd graduation report", show_default=True)
@quiet_option
def report(
    policy: str,
    history: str,
    grid: str | None,
    out: str,
    window: str | None,
    horizon: str,
    seed: int,
    trend: bool,
    title: str,
    quiet: bool,
) -> None:
    """Write the HTML + Markdown graduation report.

    \b
    Example:
      warrantd report -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --grid datasets/billing-agent.grid.toml --out reports/billing-agent
    """
    from .analytics.report import build_report
    from .analytics.sweep import load_grid

    pol, hist = _load(policy, history)
    files = build_report(
        hist,
        pol,
        out,
        sweep_grid=load_grid(grid) if grid else None,
        horizon=horizon,
        window=parse_window(window),
        title=title,
        seed=seed,
        trend=trend,
        sources={"history": history, "policy": policy},
        progress=not quiet,
    )
    click.echo(f"wrote {out}/index.html and {len(files.files) - 1} other files")


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
