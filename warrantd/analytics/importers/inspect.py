"""Inspect AI logs (``.eval`` archives and ``.json`` logs) as case rows.

Read with Inspect's own log API (``inspect_ai.log``: ``list_eval_logs`` to find
the logs in a folder, ``read_eval_log`` to read each), which needs the
``inspect`` extra: ``pip install 'warrantd[inspect]'``. It is imported here,
when a log is read, never by ``import warrantd.analytics``.

One row per sample *and epoch*: an Inspect sample run for three epochs is three
cases, each with its own score and completion time. A sample whose run errored
(``sample.error``) or that has no score is left out and listed, never passed or
failed by accident (``errors = "fail"`` in the mapping counts errors as failures).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from ...errors import MissingExtraError
from .base import Collected, LogSummary, UnmappedSample, flag, text
from .mapping import LogMapping

__all__ = ["read_inspect_logs"]

# Sample fields the importer never reads: skipped when reading a .eval archive.
_EXCLUDE = {"messages", "events", "store", "attachments", "events_data", "timelines"}


def _inspect_log_api() -> Any:
    try:
        from inspect_ai import log
    except ImportError as exc:  # pragma: no cover - the test suite installs the extra
        raise MissingExtraError(
            "reading Inspect AI logs needs the inspect-ai package", "inspect"
        ) from exc
    return log


def find_inspect_logs(source: Path, found: Collected) -> list[Path]:
    """The log files at ``source``: the file itself, or every Inspect log in a folder."""
    if source.is_file():
        return [source]
    log = _inspect_log_api()
    listed = {
        Path(_local_path(info.name)).resolve()
        for info in log.list_eval_logs(str(source), recursive=True)
    }
    files = []
    for path in sorted(p for p in source.rglob("*") if p.suffix in (".eval", ".json")):
        if path.resolve() in listed:
            files.append(path)
        elif path.is_file():
            # Inspect reads a .json file as a log only when it is named like one.
            found.skipped_files.append(str(path))
    return files


def _local_path(name: str) -> str:
    return name[len("file://") :] if name.startswith("file://") else name


def read_inspect_logs(files: list[Path], mapping: LogMapping, found: Collected) -> None:
    """Read each Inspect log into ``found``: rows, samples left out, problems."""
    log_api = _inspect_log_api()
    supported = log_api.EvalLog.model_fields["version"].default
    for path in files:
        name = str(path)
        try:
            log = log_api.read_eval_log(str(path), exclude_fields=_EXCLUDE)
        except Exception as exc:
            found.problem(name, f"not a readable Inspect log ({_first_line(exc)})")
            continue
        if not isinstance(log.version, int) or log.version > supported:
            found.problem(
                name,
                f"Inspect log version {log.version!r} is not supported "
                f"(inspect-ai {_version()} reads versions up to {supported})",
            )
            continue
        _read_samples(name, log, mapping, found)


def _read_samples(name: str, log: Any, mapping: LogMapping, found: Collected) -> None:
    spec = log.eval
    before_rows, before_left = len(found.rows), len(found.unmapped)
    samples = log.samples or []
    for sample in samples:
        _read_sample(name, spec, sample, mapping, found)
    found.logs.append(
        LogSummary(
            log_file=name,
            task=str(spec.task),
            eval_id=str(spec.eval_id),
            model=str(spec.model),
            status=str(log.status),
            samples=len(samples),
            loaded=len(found.rows) - before_rows,
            left_out=len(found.unmapped) - before_left,
        )
    )


def _field(selector: str, spec: Any, sample: Any) -> Any:
    """The value a mapping selector names, for one sample of one log."""
    head, _, arg = selector.partition(".")
    if head == "task":
        return spec.task
    if head == "model":
        return spec.model
    if head == "metadata":
        return (sample.metadata or {}).get(arg)
    if head == "task_metadata":
        return (spec.metadata or {}).get(arg)
    if head == "tag":
        return next((t[len(arg) :] for t in (spec.tags or []) if t.startswith(arg)), None)
    if head == "completed":
        return sample.completed_at
    if head == "started":
        return sample.started_at
    if head == "created":
        return spec.created
    raise AssertionError(selector)  # pragma: no cover - the mapping validates selectors


def _read_sample(name: str, spec: Any, sample: Any, mapping: LogMapping, found: Collected) -> None:
    epoch = int(sample.epoch)
    where = f"sample {sample.id!r} epoch {epoch}"

    def leave_out(kind: str, reason: str) -> None:
        found.unmapped.append(UnmappedSample(name, str(sample.id), epoch, where, kind, reason))

    # The verdict first: an errored or unscored sample is left out whatever else it has.
    if sample.error is not None and mapping.errors == "exclude":
        leave_out("error", f"errored: {_first_line(sample.error.message)}")
        return
    if sample.error is not None:
        passed, shown = False, "error"
    else:
        kind, passed, shown = _verdict(sample.scores, mapping)
        if kind == "no_score":
            leave_out("no_score", shown)
            return
        if kind == "problem":
            found.problem(name, f"{where}: {shown}")
            return
    action, action_from = _first(mapping.action, spec, sample)
    if action is None:
        leave_out("no_action", f"no action class (none of {', '.join(mapping.action)})")
        return
    moment, time_from = _first(mapping.timestamp, spec, sample)
    if moment is None:
        leave_out("no_timestamp", f"no timestamp (none of {', '.join(mapping.timestamp)})")
        return
    adversarial = _adversarial(spec, sample, mapping)
    if isinstance(adversarial, str):
        found.problem(name, f"{where}: {adversarial}")
        return
    found.rows.append(
        {
            "timestamp": moment,
            "action": mapping.rename.get(action, action),
            "passed": passed,
            "adversarial": adversarial,
            "log_file": name,
            "task": str(spec.task),
            "eval_id": str(spec.eval_id),
            "sample_id": str(sample.id),
            "epoch": epoch,
            "model": str(spec.model),
            "score": shown,
        }
    )
    found.origins.append((name, where, {"timestamp": time_from, "action": action_from}))


def _verdict(scores: dict[str, Any] | None, mapping: LogMapping) -> tuple[str, bool, str]:
    """("ok", passed, the value as text), ("no_score", False, why) or ("problem", False, line)."""
    if not scores:
        return "no_score", False, "no score"
    if mapping.scorer is not None:
        if mapping.scorer not in scores:
            why = f"no score from scorer {mapping.scorer!r} (has {_names(scores)})"
            return "no_score", False, why
        scorer = mapping.scorer
    elif len(scores) > 1:
        line = (
            f"scores from {len(scores)} scorers ({_names(scores)}): "
            "name one with [score] scorer in the mapping"
        )
        return "problem", False, line
    else:
        scorer = next(iter(scores))
    value = scores[scorer].value
    if mapping.score_key is not None:
        if not isinstance(value, dict) or mapping.score_key not in value:
            why = f"score {scorer!r} has no key {mapping.score_key!r}: {value!r}"
            return "no_score", False, why
        value = value[mapping.score_key]
        scorer = f"{scorer}.{mapping.score_key}"
    if value is None:
        return "no_score", False, f"score {scorer!r} has no value"
    passed = mapping.judge(value)
    if passed is None:
        line = (
            f"score {scorer!r} value {value!r} is not covered by the mapping ({mapping.covered()})"
        )
        return "problem", False, line
    return "ok", passed, str(value)


def _adversarial(spec: Any, sample: Any, mapping: LogMapping) -> bool | str:
    """Whether the sample is adversarial, or a line saying why that cannot be told."""
    task = str(spec.task)
    if any(fnmatch.fnmatchcase(task, pattern) for pattern in mapping.adversarial_tasks):
        return True
    if set(spec.tags or []) & set(mapping.adversarial_tags):
        return True
    scopes = (("metadata", sample.metadata or {}), ("task_metadata", spec.metadata or {}))
    for key in mapping.adversarial_metadata:
        for scope, values in scopes:
            if key not in values:
                continue
            value = flag(values[key])
            if value is None:
                return f"{scope} {key!r} value {values[key]!r} is not true or false"
            if value:
                return True
            break  # the sample's own value wins over the task's
    return False


def _first(selectors: tuple[str, ...], spec: Any, sample: Any) -> tuple[str | None, str]:
    """The first selector with a value, and its name."""
    for selector in selectors:
        value = text(_field(selector, spec, sample))
        if value is not None:
            return value, selector
    return None, ""


def _names(scores: dict[str, Any]) -> str:
    return ", ".join(repr(s) for s in scores)


def _first_line(exc: object) -> str:
    message = str(exc).strip()
    first = message.splitlines()[0] if message else ""
    kind = type(exc).__name__ if isinstance(exc, BaseException) else ""
    if kind and first:
        return f"{kind}: {first}"
    return kind or first or "unknown error"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("inspect-ai")
    except Exception:  # pragma: no cover
        return "?"
