"""The commands of ``warrantd``: click definitions, each a thin door onto the library.

Commands parse, call one library function per step, and hand their output to
:func:`warrantd.cli.emit`. Option values are checked by the library's own
parsers (:func:`~warrantd.analytics.metrics.check_window`, ...), wrapped as
click parameter types so that an error names the flag. Heavy modules are
imported inside the commands that need them.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import click

from .. import __version__
from ..errors import InputError, OptionError
from ..graduation import ceiling
from ..policyfile import load_policy
from . import EXIT_BAD_INPUT, emit, note, progress, set_quiet, warn

F = TypeVar("F", bound=Callable[..., Any])

PRINT_FORMATS = ("table", "csv", "json")


def run(args: Sequence[str], *, debug: bool = False) -> int:
    """Run the command line on ``args``; return the exit code (errors of the input raise).

    ``debug`` (``--debug`` anywhere on the line) adds the traceback to a usage error;
    the exit code stays 2.
    """
    try:
        # make_context + invoke, not cli.main: main() catches KeyboardInterrupt to echo a
        # blank line before its own Abort, and Ctrl-C must print one line only.
        with cli.make_context("warrantd", list(args)) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None
    except click.ClickException as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"warrantd: error: {_one_line(exc.format_message())}\n")
        return EXIT_BAD_INPUT
    return 0


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


# --------------------------------------------------------------------------- option types


# click >= 8.2 types ParamType as a generic; older click cannot subscript it at runtime.
class _LibraryChecked(click.ParamType):  # type: ignore[type-arg]
    """A parameter checked by a library parser; its OptionError becomes a click error."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self._parse(value)
        except OptionError as exc:
            self.fail(exc.problem, param, ctx)


def _window(text: str) -> Any:
    from ..analytics.metrics import check_window, parse_window

    parsed = parse_window(text)
    check_window(parsed)
    # "cumulative" said on the command line overrides a policy's window: keep it
    # distinct from None (the option not given: the policy's window).
    return "cumulative" if parsed is None else parsed


def _moment(text: str) -> Any:
    import pandas as pd

    try:
        stamp: Any = pd.Timestamp(text)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise OptionError("now", f"{text!r} is not a moment such as 2026-05-01T09:00Z")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _horizon(text: str) -> Any:
    from ..analytics.forecast import check_horizon

    return check_horizon(text)


def _column(text: str) -> tuple[str, str]:
    new, sep, old = text.partition("=")
    if not sep or not new.strip() or not old.strip():
        raise OptionError("column", f"{text!r} is not NEW=OLD (e.g. action=tool)")
    return new.strip(), old.strip()


def _setting(key: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        from ..policy import graduation_setting

        return graduation_setting(key, text)

    return parse


WINDOW = _LibraryChecked("window", _window)
HORIZON = _LibraryChecked("horizon", _horizon)
COLUMN = _LibraryChecked("NEW=OLD", _column)


# --------------------------------------------------------------------------- shared options

WINDOW_HELP = (
    "Graduation window: 'cumulative', a case count like 500, or a time span like 30D "
    "(default: the policy's [graduation] window, else cumulative)."
)
#: Formats a history is read in; csv, parquet, jsonl and json are also found by suffix.
HISTORY_FORMATS = ("csv", "parquet", "jsonl", "json", "inspect", "promptfoo")


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


@dataclass(frozen=True)
class HistorySource:
    """Where and how to read the history: the ``-H`` file or folder and its options."""

    path: str
    columns: tuple[tuple[str, str], ...]
    encoding: str
    format: str | None
    mapping: str | None
    strict: bool
    duplicates: str = "error"

    def load(self) -> Any:
        """The canonical history; a one-line note on what an eval-log import left out."""
        from ..analytics.history import load_history

        frame = load_history(
            self.path,
            column_map={old: new for new, old in self.columns},
            encoding=self.encoding,
            format=self.format,
            mapping=self.mapping,
            strict=self.strict,
            duplicates=self.duplicates,
        )
        if self.format in ("inspect", "promptfoo"):
            from ..analytics.importers import import_summary

            line = import_summary(frame)
            if line:
                warn(line)
        return frame


def _split_formats(
    values: Sequence[str],
    history_format: str | None,
    prints: bool,
    print_formats: Sequence[str] = PRINT_FORMATS,
) -> tuple[str, str | None]:
    """``--format`` values as (how to print, how to read the history).

    A value names a way of printing (table, csv, json) on a command that prints a
    table, else a history format; each kind may be given once.
    """
    printed: list[str] = []
    read: list[str] = [history_format] if history_format else []
    for value in values:
        if prints and value in print_formats:
            printed.append(value)
        elif value in HISTORY_FORMATS:
            read.append(value)
        else:
            known = (tuple(print_formats) if prints else ()) + HISTORY_FORMATS
            raise click.BadParameter(
                f"{value!r} is not one of {', '.join(dict.fromkeys(known))}",
                param_hint="'--format'",
            )
    if len(set(printed)) > 1 or len(set(read)) > 1:
        raise click.BadParameter(
            "give at most one way to print and one history format", param_hint="'--format'"
        )
    return (printed[0] if printed else "table"), (read[0] if read else None)


def history_options(
    *, prints: bool, required: bool = True, print_formats: Sequence[str] = PRINT_FORMATS
) -> Callable[[F], F]:
    """The history options of every command that reads one, passed on as ``source``
    (a :class:`HistorySource`, None when not required and not given) and, on commands
    that print a table, ``fmt`` (one of ``print_formats``)."""
    format_help = (
        f"How to print ({', '.join(print_formats)}), or how to read the history "
        "(inspect, promptfoo, parquet, jsonl); may be given once for each."
        if prints
        else "How to read the history: inspect, promptfoo, csv, parquet, jsonl or json "
        "(default: from its suffix)."
    )
    options = [
        click.option(
            "--history",
            "-H",
            required=required,
            type=click.Path(),
            help="Eval history: .csv, .parquet, .jsonl, .json (optionally .gz), or a folder "
            "or file of Inspect / promptfoo logs with --format inspect|promptfoo.",
        ),
        click.option(
            "--format",
            "formats",
            multiple=True,
            metavar="FORMAT",
            help=format_help,
        ),
        click.option(
            "--history-format",
            type=click.Choice(HISTORY_FORMATS),
            default=None,
            help="How to read the history (the same as --format with a history format).",
        ),
        click.option(
            "--column",
            "columns",
            type=COLUMN,
            multiple=True,
            metavar="NEW=OLD",
            help="Read the history's column OLD as NEW (repeatable), e.g. --column action=tool.",
        ),
        click.option(
            "--encoding",
            default="utf-8",
            show_default=True,
            help="Text encoding of a CSV or JSON history.",
        ),
        click.option(
            "--mapping",
            type=click.Path(dir_okay=False),
            default=None,
            help="TOML mapping of Inspect / promptfoo logs onto action classes and verdicts.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="A log sample that cannot be mapped is an error (default: left out, counted).",
        ),
        click.option(
            "--duplicates",
            type=click.Choice(["error", "keep"]),
            default="error",
            show_default=True,
            help="Rows repeating an earlier row's case_id (same action and timestamp): an "
            "error, as a doubled export would count them twice, or keep them as evidence.",
        ),
    ]

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(**kwargs: Any) -> Any:
            fmt, read = _split_formats(
                kwargs.pop("formats"), kwargs.pop("history_format"), prints, print_formats
            )
            path = kwargs.pop("history")
            columns = kwargs.pop("columns")
            encoding = kwargs.pop("encoding")
            mapping = kwargs.pop("mapping")
            strict = kwargs.pop("strict")
            duplicates = kwargs.pop("duplicates")
            source = (
                None
                if path is None
                else HistorySource(
                    path, tuple(columns), encoding, read, mapping, strict, duplicates
                )
            )
            if prints:
                kwargs["fmt"] = fmt
            return f(source=source, **kwargs)

        return _options(*options)(cast(F, wrapper))

    return decorate


policy_option = click.option(
    "--policy", "-p", required=True, type=click.Path(dir_okay=False), help="TOML policy file."
)
window_option = click.option("--window", "-w", type=WINDOW, default=None, help=WINDOW_HELP)
traffic_option = click.option(
    "--traffic",
    "-T",
    type=click.Path(dir_okay=False),
    default=None,
    help="Requests the gate was asked (CSV/Parquet/JSONL/JSON: timestamp, action, optional "
    "tenant_id, value, verdict). Default: the eval cases stand in for them.",
)
trend_option = click.option(
    "--trend/--no-trend",
    default=True,
    show_default=True,
    help="Move pass rates along each class's recent trend (--no-trend: hold them still).",
)
sims_option = click.option(
    "--sims",
    default=2000,
    show_default=True,
    type=click.IntRange(min=1, max=1_000_000),
    help="Number of forecast simulations (the backtest's too).",
)
# -q never reaches a command's body: it sets what note() and progress() read, so a
# warning about the data (warn()) cannot be silenced by it.
quiet_option = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    expose_value=False,
    callback=lambda ctx, param, value: set_quiet(value),
    help="No progress bars, no 'wrote ...' notes and no summary lines on stderr (warnings "
    "about the data still show).",
)
force_option = click.option(
    "--force",
    is_flag=True,
    help="Replace existing output files, whoever wrote them.",
)
#: report's --out is a folder with a manifest: a previous report is replaced without
#: --force; --force only lets the report be written beside the user's own files.
report_force_option = click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that holds files warrantd did not write, beside them "
    "(they are never replaced). A previous report is replaced without --force.",
)


#: The rule flags: flag, the [graduation] key it overrides, metavar, help.
_RULE_FLAGS = (
    (
        "--evidence",
        "evidence",
        "RULE",
        "Evidence rule a rate meets its bar by: point, wilson or anytime "
        "(default: the policy's [graduation] evidence, else point).",
    ),
    (
        "--alpha",
        "alpha",
        "LEVEL",
        "Level of the wilson / anytime bound, strictly between 0 and 1 "
        "(default: the policy's, else 0.05).",
    ),
    (
        "--demotion-margin",
        "demotion_margin",
        "RATE",
        "Hysteresis: a class keeps its state until a rate falls this far below "
        "its bar, in [0, 1] (default: the policy's, else 0).",
    ),
    (
        "--reset-on",
        "reset_on",
        "COLUMN",
        "History column whose change restarts a class's evidence, e.g. "
        "agent_version (default: the policy's, else none).",
    ),
)


def rule_options(f: F) -> F:
    """``--evidence``, ``--alpha``, ``--demotion-margin``, ``--reset-on``: override the
    policy's ``[graduation]`` settings, each checked by the policy rules
    (:func:`warrantd.policy.graduation_setting`); passed on as ``rule`` (a dict of the
    options given)."""
    options = [
        click.option(
            flag,
            setting,
            type=_LibraryChecked(metavar, _setting(setting)),
            default=None,
            help=text,
        )
        for flag, setting, metavar, text in _RULE_FLAGS
    ]

    @functools.wraps(f)
    def wrapper(**kwargs: Any) -> Any:
        rule = {setting: kwargs.pop(setting) for _, setting, _, _ in _RULE_FLAGS}
        return f(rule=rule, **kwargs)

    return _options(*options)(cast(F, wrapper))


def _ruled(policy: Any, rule: dict[str, Any]) -> Any:
    """``policy`` with the ``[graduation]`` settings given on the command line."""
    from ..policy import with_graduation

    return with_graduation(policy, **rule)


def _rule_notes(
    policy: Any,
    where: str,
    window: Any = None,
    rule: dict[str, Any] | None = None,
    swept: Iterable[str] = (),
) -> None:
    """Warn, one line each, of valid settings that do not do what they seem to
    (:func:`warrantd.policy.settings_notes`), under the command line's ``window``. A
    note is put to the options that made it (``--alpha``, ``--evidence``, ``--window``)
    when they were given, else to the policy file ``where``; the knobs a sweep grid
    sweeps (``swept``) are its own to say (:func:`~warrantd.analytics.sweep.grid_notes`)."""
    import dataclasses

    from ..policy import settings_notes

    rule = rule or {}
    settings = policy.graduation
    if window is not None and "window" not in swept:
        settings = dataclasses.replace(settings, window=window)
    given = {"graduation.alpha": ["alpha"], "graduation.evidence": ["evidence", "window"]}
    for key, text in settings_notes(settings):
        knobs = given.get(key, [])
        if any(k in swept for k in knobs) or ("evidence" in swept and key == "graduation.alpha"):
            continue
        options = [
            f"--{k} {window if k == 'window' else rule[k]}"
            for k in knobs
            if (window if k == "window" else rule.get(k)) is not None
        ]
        warn(f"{' '.join(options)}: {text}" if options else f"{where}: {key}: {text}")


def _windowed(policy: Any, window: Any) -> Any:
    """``policy`` under the command line's ``--window`` (itself when none was given)."""
    import dataclasses

    if window is None:
        return policy
    graduation = dataclasses.replace(policy.graduation, window=window)
    return dataclasses.replace(policy, graduation=graduation)


def _ruled_source(source: Any, rule: dict[str, Any]) -> Any:
    """A :class:`~warrantd.analytics.diff.PolicySource` whose policy takes the
    ``[graduation]`` settings given on the command line."""
    import dataclasses

    return dataclasses.replace(source, policy=_ruled(source.policy, rule))


def out_option(what: str) -> Callable[[F], F]:
    """``--out/-o FILE``: where to write ``what`` as CSV."""
    return click.option(
        "--out",
        "-o",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"Write {what} to this CSV file (refused if it exists, unless --force).",
    )


# --------------------------------------------------------------------------- helpers


def _check_coverage(history: Any, policy: Any, policy_path: str, source: HistorySource) -> None:
    """Every action of the history must be defined in the policy: blamed on the history,
    with its column and when each unknown action first appears."""
    from ..analytics._engine import check_coverage
    from ..analytics.history import validate_against

    coverage = validate_against(history, policy)
    if not coverage.ok:
        imported = source.format in ("inspect", "promptfoo")  # logs have no action column
        check_coverage(
            coverage.missing_from_policy,
            policy,
            source.path,
            frame=history,
            column=None if imported else dict(source.columns).get("action", "action"),
            policy_name=policy_path,
        )


def _check_reset_on(
    history: Any, policy: Any, policy_path: str, rule: dict[str, Any], regime: str | None = None
) -> None:
    """The history must have the column that restarts the evidence (``reset_on``) or
    starts a forecast regime (``--regime``): said under the flag that named it, else
    blamed on the policy file's ``[graduation] reset_on``, before any work. One check
    for every command: the forecast's (:func:`~warrantd.analytics.forecast.regime_column`)."""
    from ..analytics.forecast import REGIME_FROM_POLICY, regime_column

    try:
        regime_column(history, policy, REGIME_FROM_POLICY if regime is None else regime)
    except OptionError as exc:
        if regime is not None or rule.get("reset_on"):
            given = "'--regime'" if regime is not None else "'--reset-on'"
            raise click.BadParameter(exc.problem, param_hint=given) from None
        raise InputError(policy_path, [f"[graduation] reset_on: {exc.problem}"]) from None


def _steps(labels: Sequence[str]) -> Any:
    from ..analytics._progress import Steps

    return Steps(labels, enabled=progress())


def _check_out(out: str | None, force: bool, *inputs: str | None) -> None:
    """Check ``--out`` before the work: writable, not replaced without ``--force``, and
    never one of the command's own inputs (not even with ``--force``)."""
    if out is None:
        return
    from .._io import OutputError, check_destination

    for given in inputs:
        if given is None:
            continue
        same = os.path.abspath(given) == os.path.abspath(out)
        if same or (os.path.exists(given) and os.path.exists(out) and os.path.samefile(given, out)):
            raise OutputError(out, "is one of this command's inputs or outputs; choose another")
    _parent_must_exist(out)
    check_destination(out, overwrite=force)


def _parent_must_exist(out: str) -> None:
    """Refuse an ``--out`` whose folder is missing (:func:`warrantd._io.require_folder`)."""
    from .._io import require_folder

    require_folder(out)


approvals_option = click.option(
    "--approvals",
    type=click.Path(dir_okay=False),
    default=None,
    help="Human approval decisions as a second signal (CSV/Parquet/JSONL/JSON with "
    "timestamp, action, outcome; or a warrantd audit log): a state is earned only when "
    "both the evals and the approvals earn it.",
)
approval_window_option = click.option(
    "--approval-window",
    type=click.IntRange(min=0),
    default=None,
    help="Judge the approval signal on the last N records (default: all of them).",
)


def _load_approvals(path: str | None) -> Any:
    if path is None:
        return None
    from ..analytics.traffic import is_audit_log

    if is_audit_log(path):
        from ..analytics.auditlog import load_audit

        return load_audit(path).approvals
    from ..analytics.approvals import load_approvals

    return load_approvals(path)


def _window_or_policy(window: Any) -> Any:
    """The window given on the command line, or the policy's own when none was."""
    if window is not None:
        return window
    from ..analytics.replay import POLICY_WINDOW

    return POLICY_WINDOW


def _load_traffic(
    path: str | None, policy: Any = None, policy_path: str = "", history: Any = None
) -> Any:
    """The traffic, and (given the policy) every action of it defined there, or an error
    naming the traffic file, its column and when each unknown action first appears.
    What is odd about it beside the history (:func:`traffic_notes`) is a warning, for
    every command that reads traffic."""
    if path is None:
        return None
    from ..analytics.traffic import load_traffic, traffic_notes

    traffic = load_traffic(path)
    for line in traffic_notes(traffic, history):
        warn(f"traffic: {line}")
    if policy is not None:
        from ..analytics._engine import check_coverage

        check_coverage(
            map(str, traffic["action"].unique()),
            policy,
            str(traffic.attrs.get("source", path)),
            frame=traffic,
            policy_name=policy_path,
        )
    return traffic


def _say_traffic(result: Any, traffic: Any, fmt: str) -> None:
    """That eval cases stood in for traffic (a warning on stderr), or what the policy
    would have changed in a decision log (after the table on stdout; a note on stderr
    when stdout is CSV or JSON for a program to read)."""
    if traffic is None:
        # A caveat on what every figure means (cases, not requests): a warning, so -q
        # keeps it.
        warn("no --traffic: each eval case stands in for one request without a value")
        return
    if "verdict" not in traffic.columns:
        return
    lines = [f"{r['action']}: {r['sentence']}" for r in result.would_have_gated.to_dict("records")]
    if lines:
        text = "\n".join(["against the verdicts the traffic records, this policy:", *lines])
    else:
        text = "every verdict in the decision log would be the same"
    if fmt == "table":
        emit(text)
    else:  # beside CSV or JSON for a program: a note on stderr, which -q drops
        note(text)


def _write_csv(frame: Any, path: str) -> None:
    from ..analytics.history import write_csv

    write_csv(frame, path)
    note(f"wrote {len(frame):,} rows to {path}")


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _names(names: Sequence[str], limit: int = 10) -> str:
    """Names for a message: quoted, at most ``limit``, then how many more."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _table(frame: Any, fmt: str) -> str:
    if fmt == "csv":
        return str(frame.to_csv(index=False))
    if fmt == "json":
        return str(frame.to_json(orient="records", date_format="iso", indent=2))
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
        # "—" where a value does not exist (never reached, nothing to compute), as in the report.
        return str(frame.to_string(index=False, na_rep="—"))


# --------------------------------------------------------------------------- commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(__version__, "--version", prog_name="warrantd")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """warrantd: gate agent actions and tune how they earn autonomy.

    \b
    Exit codes: 0 done, 2 bad input (one line, no traceback unless --debug),
    130 interrupted (Ctrl-C), 1 an internal error (a bug; please report it).
    """
    ctx.obj = {"debug": debug}
    if ctx.invoked_subcommand is None:
        emit(ctx.get_help())


@cli.command()
@click.argument("policy", type=click.Path(dir_okay=False))
@history_options(prints=False, required=False)
@quiet_option
def validate(policy: str, source: HistorySource | None) -> None:
    """Check a TOML policy file, and optionally a history against it (with data quality).

    \b
    The policy: every key known (a typo says what it meant), every value in range,
    each AUTONOMOUS bar at or above its SUPERVISED bar, the [graduation] rule valid;
    it prints the bars, the rule and each class's risk, ceiling and caps. With
    --history: the file reads (every row, column and value), every action in it is
    in the policy, reset_on names one of its columns, and its data quality (classes
    without evidence, outlier dates, repeats, pooled agents).
    Exit 0 when valid, 2 naming each problem (file, row, column and value).

    \b
    Example:
      warrantd validate datasets/billing-agent.policy.toml
      warrantd validate datasets/billing-agent.policy.toml --history datasets/billing-agent.csv
    """
    from ..policy import settings_notes, settings_text

    loaded = load_policy(policy)
    t = loaded.thresholds
    lines = [f"{policy}: valid policy with {len(loaded.actions)} action classes"]
    for state in sorted(t.pass_rate):
        lines.append(
            f"  {state.name:<10} pass_rate >= {t.pass_rate[state]:.2f}  "
            f"adversarial >= {t.adversarial_pass_rate[state]:.2f}  "
            f"samples >= {t.min_samples[state]}"
        )
    lines.append("  graduation: " + settings_text(loaded.graduation, every=True))
    lines.extend(f"  note: {key}: {text}" for key, text in settings_notes(loaded.graduation))
    for name, action in loaded.actions.items():
        caps = ", ".join(
            f"{cap}={getattr(action, cap)}"
            for cap in ("auto_cap", "hard_cap")
            if getattr(action, cap) is not None
        )
        lines.append(
            f"  {name}: {action.risk.name.lower()}, ceiling {ceiling(action).name}"
            + (f", {caps}" if caps else "")
        )
    if source is not None:
        from ..analytics.quality import data_quality

        frame = source.load()
        _check_coverage(frame, loaded, policy, source)
        _check_reset_on(frame, loaded, policy, {})
        lines.append(
            f"{source.path}: {len(frame):,} rows, {int(frame['n'].sum()):,} cases; "
            "every action in the history is in the policy"
        )
        lines.extend(data_quality(frame, loaded).describe_lines())
    emit("\n".join(lines))


@cli.command()
@policy_option
@history_options(prints=True)
@traffic_option
@approvals_option
@approval_window_option
@window_option
@rule_options
@out_option("the full per-moment timeline")
@click.option(
    "--transitions",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write every state change (time, from, to, cause, metrics, binding bars) to this "
    "CSV file (refused if it exists, unless --force).",
)
@force_option
@quiet_option
def replay(
    policy: str,
    source: HistorySource,
    traffic: str | None,
    approvals: str | None,
    approval_window: int | None,
    window: Any,
    rule: dict[str, Any],
    out: str | None,
    transitions: str | None,
    force: bool,
    fmt: str,
) -> None:
    """Replay a history under a policy: when each action graduated, what it cost.

    \b
    Example:
      warrantd replay -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --window 30D --out timeline.csv
    """
    from ..analytics.replay import replay as run_replay

    inputs = (policy, source.path, source.mapping, traffic, approvals)
    _check_out(out, force, *inputs, transitions)
    _check_out(transitions, force, *inputs, out)
    with _steps(["load", "replay"]) as steps:
        pol = _ruled(load_policy(policy), rule)
        _rule_notes(pol, policy, window, rule)
        hist = source.load()
        _check_coverage(hist, pol, policy, source)
        _check_reset_on(hist, pol, policy, rule)
        requests = _load_traffic(traffic, pol, policy, hist)
        decided = _load_approvals(approvals)
        steps.next()
        result = run_replay(
            hist,
            pol,
            traffic=requests,
            window=_window_or_policy(window),
            approvals=decided,
            approval_window=approval_window,
        )
    columns_shown = [
        "action",
        "cases",
        "no_evidence",
        "final_state",
        "first_supervised",
        "first_autonomous",
        "requests",
        "allowed",
        "approval_burden",
        "blocked",
        "failures_let_through",
        "demotions",
    ]
    if approvals is not None:
        columns_shown.append("held_back_by")
    if fmt == "table":
        emit(_graduating_under(pol, result.window))
    emit(_table(result.summary if fmt != "table" else result.summary[columns_shown], fmt))
    _say_traffic(result, requests, fmt)
    if decided is not None:
        from ..analytics.approvals import approval_coverage

        coverage = approval_coverage(decided, hist["action"].unique())
        if coverage:
            warn(coverage)
    if out:
        _write_csv(result.timeline, out)
    if transitions:
        _write_csv(result.transitions, transitions)


@cli.command()
@policy_option
@history_options(prints=True)
@click.option(
    "--grid",
    "-g",
    required=True,
    type=click.Path(dir_okay=False),
    help="TOML sweep grid: knob = [values].",
)
@traffic_option
@window_option
@rule_options
@click.option(
    "--top",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Print at most this many rows of the Pareto front.",
)
@click.option("--all", "show_all", is_flag=True, help="Print the whole Pareto front.")
@out_option("the full candidate x action table")
@force_option
@quiet_option
def sweep(
    policy: str,
    source: HistorySource,
    grid: str,
    traffic: str | None,
    window: Any,
    rule: dict[str, Any],
    top: int,
    show_all: bool,
    out: str | None,
    force: bool,
    fmt: str,
) -> None:
    """Replay every candidate of a grid; print the Pareto front (burden against risk).

    \b
    The front is deduplicated: candidates with the same burden and risk show once,
    as the one with the strictest bars. --out gets every candidate and action.
    Example:
      warrantd sweep -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --grid datasets/billing-agent.grid.toml --out sweep.csv
    """
    from ..analytics.sweep import KNOBS, grid_notes, load_grid
    from ..analytics.sweep import sweep as run_sweep

    _check_out(out, force, policy, source.path, source.mapping, grid, traffic)
    with _steps(["load", "sweep"]) as steps:
        pol = _ruled(load_policy(policy), rule)
        candidates = load_grid(grid)
        _rule_notes(pol, policy, window, rule, swept=candidates)
        for said in grid_notes(_windowed(pol, window), candidates):
            warn(f"{grid}: {said}")
        hist = source.load()
        _check_coverage(hist, pol, policy, source)
        _check_reset_on(hist, pol, policy, rule)
        requests = _load_traffic(traffic, pol, policy, hist)
        steps.next()
        result = run_sweep(
            hist,
            pol,
            candidates,
            traffic=requests,
            window=_window_or_policy(window),
            progress=progress(),
        )
    front = result.pareto()
    note(
        f"{_plural(result.n_candidates, 'candidate')} replayed, {result.n_skipped:,} skipped "
        f"(AUTONOMOUS bar below SUPERVISED); Pareto front: "
        f"{_plural(len(front), 'distinct point')}"
    )
    silent = sorted(set(result.table.loc[result.table["no_evidence"], "action"]))
    if silent:
        warn(f"no evidence, MANUAL throughout: {_names(silent)}")
    if window is not None and "window" in candidates:
        warn("--window is not used: the grid sweeps its own window knob")
    for knob in ("evidence", "alpha", "demotion_margin"):
        if rule[knob] is not None and knob in candidates:
            flag = "--" + knob.replace("_", "-")
            warn(f"{flag} is not used: the grid sweeps its own {knob} knob")
    shown = front if show_all else front.head(top)
    if fmt == "table":
        varied = [k for k in KNOBS if result.table[k].nunique() > 1]
        shown = shown[
            [
                "candidate",
                *varied,
                "approval_burden",
                "failures_let_through",
                "failures_while_autonomous",
                "median_days_to_supervised",
                "median_days_to_autonomous",
            ]
        ]
    emit(_table(shown, fmt))
    if len(shown) < len(front):
        note(
            f"... {len(front) - len(shown):,} more rows of the front left off "
            f"(--top N or --all to see them; --out FILE gets every candidate)"
        )
    if out:
        _write_csv(result.table, out)


@cli.command()
@policy_option
@history_options(prints=True)
@window_option
@click.option(
    "--horizon",
    type=HORIZON,
    default="90D",
    show_default=True,
    help="How far ahead: whole days, e.g. 90D or 90 (at most 3650).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Random seed (same seed, same forecast).",
)
@sims_option
@trend_option
@click.option(
    "--regime",
    metavar="COLUMN",
    default=None,
    help="A change of this history column, per action, starts a new regime: the "
    "pass rates are learnt from the current regime, and new regimes arrive as the past "
    "ones did (default: the policy's [graduation] reset_on, as --reset-on sets it, else "
    "agent_version when the history has it).",
)
@click.option(
    "--now",
    metavar="MOMENT",
    default=None,
    type=_LibraryChecked("moment", _moment),
    help="When the forecast is made (UTC unless it says; default: the last evidence). "
    "It knows nothing came since the last evidence: the quiet days count, and no run "
    "starts before it. The horizon still counts from the last evidence, so a later "
    "--now leaves fewer of its days; one before the last evidence or past the horizon's "
    "end is refused.",
)
@rule_options
@click.option(
    "--wide",
    is_flag=True,
    help="Print every column of the forecast table (--out and --format csv|json always "
    "have them all).",
)
@out_option("the forecast table")
@force_option
@quiet_option
def forecast(
    policy: str,
    source: HistorySource,
    window: Any,
    horizon: int,
    seed: int,
    sims: int,
    trend: bool,
    regime: str | None,
    now: Any,
    rule: dict[str, Any],
    wide: bool,
    out: str | None,
    force: bool,
    fmt: str,
) -> None:
    """Forecast when each action reaches its next state.

    \b
    Example:
      warrantd forecast -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --horizon 90D --seed 1
      warrantd forecast -p datasets/coding-agent.policy.toml \\
          -H datasets/coding-agent-runs.csv --regime agent_version
    """
    from ..analytics.forecast import REGIME_FROM_POLICY
    from ..analytics.forecast import forecast as run_forecast

    _check_out(out, force, policy, source.path, source.mapping)
    with _steps(["load", "forecast"]) as steps:
        pol = _ruled(load_policy(policy), rule)
        _rule_notes(pol, policy, window, rule)
        hist = source.load()
        _check_coverage(hist, pol, policy, source)
        _check_reset_on(hist, pol, policy, rule, regime)
        steps.next()
        try:
            result = run_forecast(
                hist,
                pol,
                horizon=horizon,
                window=_window_or_policy(window),
                n_sims=sims,
                seed=seed,
                trend=trend,
                regime=REGIME_FROM_POLICY if regime is None else regime,
                progress=progress(),
                now=now,
            )
        except OptionError as exc:  # the library's check of --now, said under its flag
            if exc.option != "now":
                raise
            raise click.BadParameter(exc.problem, param_hint="'--now'") from None
    if result.now is not None and result.now >= result.as_of + result.horizon:
        end = (result.as_of + result.horizon).strftime("%Y-%m-%d %H:%M UTC")
        raise click.BadParameter(
            f"{now} is past the end of the horizon ({end}: {int(result.horizon.days)} days "
            "after the last eval), so no day of it is left to forecast; give a longer --horizon",
            param_hint="'--now'",
        )
    if fmt == "table":
        emit(_graduating_under(pol, result.window) + f"; {_forecast_span(result)}")
    emit(_forecast_view(result.table) if fmt == "table" and not wide else _table(result.table, fmt))
    if out:
        _write_csv(result.table, out)


def _graduating_under(policy: Any, window: Any) -> str:
    """The line above a table that says which window and evidence rule made it."""
    from ..analytics.metrics import window_label
    from ..policy import settings_text

    return "graduating under " + settings_text(policy.graduation, window_label(window))


def _forecast_span(result: Any) -> str:
    as_of = result.as_of.strftime("%Y-%m-%d %H:%M UTC")
    days = int(result.horizon / _one_day())
    made = ""
    if result.now is not None and result.now != result.as_of:
        left = (result.as_of + result.horizon - result.now) / _one_day()
        made = f"; made at {result.now.strftime('%Y-%m-%d %H:%M UTC')}, {left:.1f} days of it left"
    return f"horizon {days} days from the last eval ({as_of}){made}; {result.n_sims:,} simulations"


def _one_day() -> Any:
    import pandas as pd

    return pd.Timedelta(days=1)


#: The forecast columns a terminal shows, with their headings (--wide: every column).
_FORECAST_VIEW = {
    "action": "action",
    "state": "state",
    "next_state": "next",
    "p_within_horizon": "P(horizon)",
    "given_p10_date": "if so: p10",
    "given_p50_date": "p50",
    "given_p90_date": "p90",
    "runs_per_day": "runs/day",
}


def _forecast_view(table: Any) -> str:
    """The forecast table narrowed to what a reader decides on: percentages, dates
    without the time of day, and each class's notes below the table."""
    import pandas as pd

    from ..analytics.forecast import chance_text

    view = table[[c for c in _FORECAST_VIEW if c in table.columns]].copy()
    if "p_within_horizon" in view:
        view["p_within_horizon"] = [chance_text(p) for p in view["p_within_horizon"]]
    for column in ("given_p10_date", "given_p50_date", "given_p90_date"):
        if column in view:
            view[column] = [
                "—" if pd.isna(d) else pd.Timestamp(d).strftime("%Y-%m-%d") for d in view[column]
            ]
    if "runs_per_day" in view and "next_state" in view:
        # No rate where nothing is forecast: a class at its ceiling is not simulated.
        at_ceiling = view["next_state"].isna() | (view["next_state"].astype(str) == "")
        view["runs_per_day"] = view["runs_per_day"].where(~at_ceiling)
    lines = [_table(view.rename(columns=_FORECAST_VIEW), "table")]
    if "given_p10_date" in view:
        lines.append(
            "P(horizon): the chance of reaching the next state within the horizon; if so: "
            "when (given_p10/p50/p90_date)"
        )
    # Long texts below the table, one class a line, rather than a 300-column table.
    for column, heading in (
        ("blocked_on", "blocked on"),
        ("note", "notes"),
        ("trend_note", "trend"),
    ):
        if column not in table:
            continue
        said = [
            f"  {action}: {text}"
            for action, text in zip(table["action"], table[column], strict=True)
            if isinstance(text, str) and text.strip()
        ]
        if said:
            lines += [f"{heading}:", *said]
    return "\n".join(lines)


@cli.command()
@policy_option
@history_options(prints=False)
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
    help="Output folder: new, empty, or a previous report (see --force).",
)
@report_force_option
@traffic_option
@window_option
@rule_options
@click.option(
    "--horizon",
    type=HORIZON,
    default="90D",
    show_default=True,
    help="Forecast horizon: whole days, e.g. 90D or 90 (at most 3650).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Random seed of the forecast (same seed, same report).",
)
@sims_option
@trend_option
@click.option(
    "--title", default="warrantd graduation report", show_default=True, help="The report's title."
)
@click.option(
    "--base",
    default=None,
    metavar="POLICY",
    help="A base policy (file or git:REF:PATH): adds a 'Policy change' section, what "
    "changing it to --policy would have done (as warrantd diff reports it).",
)
@quiet_option
def report(
    policy: str,
    source: HistorySource,
    grid: str | None,
    out: str,
    force: bool,
    traffic: str | None,
    window: Any,
    rule: dict[str, Any],
    horizon: int,
    seed: int,
    sims: int,
    trend: bool,
    title: str,
    base: str | None,
) -> None:
    """Write the HTML + Markdown graduation report into a folder.

    \b
    The folder gets a manifest of the files warrantd wrote; a later run replaces
    only those. A non-empty folder that is not a previous report is refused unless
    --force, and even then no file warrantd did not write is replaced.
    Example:
      warrantd report -p datasets/billing-agent.policy.toml -H datasets/billing-agent.csv \\
          --window 30D --traffic datasets/billing-agent.traffic.csv \\
          --grid datasets/billing-agent.grid.toml --out reports/mine
      warrantd report --format inspect -p policy.toml -H logs/ --out reports/mine
      warrantd report -p policy.toml -H evals.csv --base git:origin/main:policy.toml
    """
    from .._io import OwnedDirectory
    from ..analytics.report import GENERATOR, build_report
    from ..analytics.sweep import grid_notes, load_grid

    _parent_must_exist(out)
    target = OwnedDirectory.prepare(out, generator=GENERATOR, force=force)
    with _steps(["load"]):
        pol = _ruled(load_policy(policy), rule)
        candidates = load_grid(grid) if grid else None
        _rule_notes(pol, policy, window, rule)  # the report replays under --window too
        for said in (
            grid_notes(_windowed(pol, window), candidates) if candidates is not None else []
        ):
            warn(f"{grid}: {said}")
        hist = source.load()
        _check_reset_on(hist, pol, policy, rule)
        requests = _load_traffic(traffic, pol, policy, hist)
        base_policy = None
        if base is not None:
            from ..analytics.diff import read_policy

            # The rule given on the command line grades both sides, as in `warrantd diff`.
            base_policy = _ruled_source(read_policy(base), rule)
            _check_reset_on(hist, base_policy.policy, base_policy.source, rule)
    sources = {"history": source.path, "policy": policy}
    if traffic is not None:
        sources["traffic"] = traffic
    files = build_report(
        hist,
        pol,
        target,
        sweep_grid=candidates,
        traffic=requests,
        horizon=horizon,
        window=_window_or_policy(window),
        title=title,
        seed=seed,
        n_sims=sims,
        trend=trend,
        sources=sources,
        progress=progress(),
        base_policy=base_policy,
    )
    note(f"wrote {out}/index.html and {len(files.files) - 1} other files")


DIFF_FORMATS = ("table", "md", "json", "junit")


@cli.command()
@click.argument("base")
@click.argument("new")
@history_options(prints=True, print_formats=DIFF_FORMATS)
@traffic_option
@window_option
@rule_options
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    metavar="BUDGET",
    help="Exit 1 when the change exceeds this budget (repeatable): loosened, any-change, "
    "burden+N% or burden+N (approval burden up by more than N percent / requests), "
    "failures+N (failures let through up by more than N), premature+N (premature "
    "graduations, ground truth). Figure budgets hold per class and in total.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the output to this file instead of stdout (refused if it exists, unless --force).",
)
@force_option
@quiet_option
@click.pass_context
def diff(
    ctx: click.Context,
    base: str,
    new: str,
    source: HistorySource,
    traffic: str | None,
    window: Any,
    rule: dict[str, Any],
    fail_on: tuple[str, ...],
    out: str | None,
    force: bool,
    fmt: str,
) -> None:
    """What changing policy BASE to NEW would have done on a history: a CI check.

    \b
    BASE and NEW are policy files or git:REF:PATH (the file at PATH in revision REF,
    read with `git show REF:PATH`; PATH from the repository root, or ./PATH from
    here). Reports the keys that changed (loosens / tightens / either), and per class
    and in total the approval burden, failures let through (normal and adversarial),
    demotions, premature graduations (ground truth), first SUPERVISED / AUTONOMOUS
    dates and, with --traffic, the requests whose verdict changes; with SHA-256
    digests of both policies, the history and the traffic. --evidence, --alpha,
    --demotion-margin and --reset-on grade both sides under the rule given.
    --format: table (default), md (for a pull-request comment or
    $GITHUB_STEP_SUMMARY), json (schema warrantd.diff version 1), junit.

    \b
    Exit codes: 0 within every budget (or none given); 1 a budget exceeded (the
    output says which and where); 2 bad input (a missing file, an invalid policy,
    a git ref or path git does not know, a bad budget: one line, no traceback);
    130 interrupted. An internal error also exits 1, with a traceback on stderr.

    \b
    Example:
      warrantd diff git:origin/main:policy.toml policy.toml -H evals.csv \\
          --fail-on loosened --fail-on burden+10% --format md
    """
    from ..analytics.diff import parse_budget, policy_impact, read_policy

    budgets = [parse_budget(text) for text in fail_on]
    files = [p for p in (base, new) if not p.startswith("git:")]
    _check_out(out, force, *files, source.path, source.mapping, traffic)
    with _steps(["load", "replay"]) as steps:
        # A rule given on the command line grades both sides: the bars' change under it
        # (the digests stay those of the files read).
        base_policy = _ruled_source(read_policy(base), rule)
        new_policy = _ruled_source(read_policy(new), rule)
        for side, path in ((base_policy, base), (new_policy, new)):
            _rule_notes(side.policy, path, window, rule)
        hist = source.load()
        for side in (base_policy, new_policy):
            _check_reset_on(hist, side.policy, side.source, rule)
        requests = _load_traffic(traffic, history=hist)
        steps.next()
        impact = policy_impact(
            base_policy,
            new_policy,
            hist,
            traffic=requests,
            window=_window_or_policy(window),
            history_source=source.path,
            traffic_source=traffic,
        )
        breaches = impact.check(budgets)
    render = {
        "table": impact.to_text,
        "md": impact.to_markdown,
        "json": impact.to_json,
        "junit": impact.to_junit,
    }[fmt]
    text = render(budgets)
    if out:
        from .._io import write_text

        write_text(out, text)
        note(f"wrote {out}")
    else:
        emit(text)
    if breaches:
        if out or fmt != "table":
            for breach in breaches:
                emit(f"exceeded {breach.budget} ({breach.scope}): {breach.message}", err=True)
        ctx.exit(1)


@cli.group()
def audit() -> None:
    """Check, checkpoint and copy a tamper-evident audit log.

    A log is a SQLite file (SQLiteAuditSink) or a PostgreSQL database given as a DSN,
    postgresql://user:password@host:port/dbname (PostgresAuditSink; needs the postgres extra).
    """


@audit.command("verify")
@click.argument("path", metavar="PATH_OR_DSN", type=click.Path())
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A checkpoint file (warrantd audit checkpoint): also detect rows removed from the "
    "end and a chain recomputed since.",
)
@click.pass_context
def audit_verify(ctx: click.Context, path: str, checkpoint_file: str | None) -> None:
    """Verify an audit log's hash chain: one line; exit 0 intact, 1 broken, 2 bad input.

    \b
    Example:
      warrantd audit verify audit.db --checkpoint audit.checkpoint.json
      warrantd audit verify postgresql://auditor@db.internal/gates
    """
    from ..auditlog import verify_audit

    result = verify_audit(path, checkpoint_file)
    emit(result.describe())
    if not result.ok:
        ctx.exit(1)


@audit.command("checkpoint")
@click.argument("path", metavar="PATH_OR_DSN", type=click.Path())
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the checkpoint to this file (refused if it exists, unless --force); "
    "default: print it.",
)
@force_option
@quiet_option
def audit_checkpoint(path: str, out: str | None, force: bool) -> None:
    """Take a checkpoint (row count and head hash) of an intact audit log, to keep elsewhere.

    \b
    The log is verified first: a broken log gets no checkpoint (exit 1).
    Without --out the checkpoint file's text is printed.
    Example:
      warrantd audit checkpoint audit.db --out /secure/audit.checkpoint.json
    """
    from ..auditlog import Checkpoint, is_dsn, verify_audit, write_checkpoint
    from ..auditlog.chain import checkpoint_json

    _check_out(out, force, None if is_dsn(path) else path)
    result = verify_audit(path)
    if not result.ok:
        emit(result.describe())
        raise click.exceptions.Exit(1)
    checkpoint = Checkpoint(result.rows, result.head)
    if out:
        write_checkpoint(checkpoint, out)
        note(f"wrote the checkpoint of {result.rows:,} rows to {out}")
    else:
        emit(checkpoint_json(checkpoint))


@audit.command("copy")
@click.argument("source", metavar="SOURCE", type=click.Path())
@click.argument("destination", metavar="DESTINATION", type=click.Path())
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Verify the source against this checkpoint file before copying.",
)
@quiet_option
def audit_copy(source: str, destination: str, checkpoint_file: str | None) -> None:
    """Copy an audit log, every row and hash as it is: SQLite to PostgreSQL or back.

    \b
    SOURCE and DESTINATION are each a SQLite file or a postgresql:// DSN. The source is
    verified first (a broken log is not copied, exit 1); the destination is created when
    missing, and when it already holds rows they must be the source's first rows (a copy
    run again picks up where it stopped). Afterwards the destination is verified against
    the source's row count and head hash. Prints one line; exit 0 done, 1 broken, 2 refused.
    Example:
      warrantd audit copy audit.db postgresql://admin@db.internal/gates
      warrantd audit copy postgresql://auditor@db.internal/gates archive-2026-03.db
    """
    from ..auditlog import copy_audit, is_dsn, redact, verify_audit

    origin = verify_audit(source, checkpoint_file)
    if not origin.ok:  # broken is exit 1, as for verify; copy_audit would refuse it too
        emit(origin.describe())
        raise click.exceptions.Exit(1)
    result = copy_audit(source, destination, checkpoint=checkpoint_file)
    emit(result.describe())
    shown = redact(destination) if is_dsn(destination) else destination
    note(f"keep a checkpoint elsewhere: warrantd audit checkpoint {shown} --out FILE")
