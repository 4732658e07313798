"""promptfoo results files (``promptfoo eval -o results.json``) as case rows.

The file is plain JSON (its ``results.version`` is 3), so no promptfoo package is
needed to read it. One row per result: per test case, prompt and provider.
promptfoo keeps no time per result, so every row of a file takes the eval's
creation time (``results.timestamp``). A result whose ``failureReason`` is 2
(ERROR: the provider or a transform failed; an assertion that merely fails is
1, ASSERT) is left out and listed, never failed by accident.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

from .base import Collected, LogSummary, UnmappedSample, flag, text
from .mapping import LogMapping

__all__ = ["find_promptfoo_results", "read_promptfoo_results"]

#: The results layout this importer reads (``results.version``).
SUPPORTED_VERSION = 3
_ERROR = 2  # promptfoo's ResultFailureReason.ERROR


def find_promptfoo_results(source: Path, found: Collected) -> list[Path]:
    """The results files at ``source``: the file itself, or every ``.json`` in a folder."""
    if source.is_file():
        return [source]
    return sorted(p for p in source.rglob("*.json") if p.is_file())


def read_promptfoo_results(files: list[Path], mapping: LogMapping, found: Collected) -> None:
    """Read each promptfoo results file into ``found``: rows, results left out, problems."""
    for path in files:
        name = str(path)
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            found.problem(
                name, f"not a readable promptfoo results file ({type(exc).__name__}: {exc})"
            )
            continue
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, dict) or not isinstance(results.get("results"), list):
            found.problem(
                name,
                "not a promptfoo results file (no 'results.results' list; "
                "write one with promptfoo eval -o results.json)",
            )
            continue
        version = results.get("version")
        if version != SUPPORTED_VERSION:
            found.problem(
                name,
                f"promptfoo results version {version!r} is not supported "
                f"(this reads version {SUPPORTED_VERSION})",
            )
            continue
        _read_results(name, data, results, mapping, found)


def _read_results(
    name: str, data: dict[str, Any], results: dict[str, Any], mapping: LogMapping, found: Collected
) -> None:
    config = data["config"] if isinstance(data.get("config"), dict) else {}
    meta = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    header = {
        "suite": config.get("description"),
        "created": results.get("timestamp") or meta.get("evaluationCreatedAt"),
        "eval_id": str(data.get("evalId") or ""),
    }
    before_rows, before_left = len(found.rows), len(found.unmapped)
    items = results["results"]
    for index, result in enumerate(items):
        if not isinstance(result, dict):
            found.problem(name, f"result {index + 1}: not an object: {result!r}")
            continue
        _read_result(name, header, result, mapping, found)
    providers = sorted({_provider(r) for r in items if isinstance(r, dict)})
    found.logs.append(
        LogSummary(
            log_file=name,
            task=str(header["suite"] or ""),
            eval_id=str(header["eval_id"]),
            model=", ".join(providers),
            status="complete",
            samples=len(items),
            loaded=len(found.rows) - before_rows,
            left_out=len(found.unmapped) - before_left,
        )
    )


def _provider(result: dict[str, Any]) -> str:
    provider = result.get("provider")
    if isinstance(provider, dict):
        return str(provider.get("label") or provider.get("id") or "")
    return str(provider or "")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _field(selector: str, header: dict[str, Any], result: dict[str, Any]) -> Any:
    """The value a mapping selector names, for one result."""
    head, _, arg = selector.partition(".")
    test = _dict(result.get("testCase"))
    if head == "suite":
        return header["suite"]
    if head == "created":
        return header["created"]
    if head == "test":
        return test.get("description")
    if head == "provider":
        return _provider(result)
    if head == "prompt":
        return _dict(result.get("prompt")).get("label")
    if head == "plugin":
        return _metadata(result).get("pluginId")
    if head == "metadata":
        return _metadata(result).get(arg)
    if head == "vars":
        return {**_dict(test.get("vars")), **_dict(result.get("vars"))}.get(arg)
    raise AssertionError(selector)  # pragma: no cover - the mapping validates selectors


def _metadata(result: dict[str, Any]) -> dict[str, Any]:
    # The test's own metadata, as promptfoo also copies it onto the result.
    return {**_dict(_dict(result.get("testCase")).get("metadata")), **_dict(result.get("metadata"))}


def _read_result(
    name: str, header: dict[str, Any], result: dict[str, Any], mapping: LogMapping, found: Collected
) -> None:
    test_idx = result.get("testIdx")
    prompt_idx = result.get("promptIdx")
    provider = _provider(result)
    where = f"test {test_idx} (prompt {prompt_idx}, provider {provider!r})"

    def leave_out(kind: str, reason: str) -> None:
        found.unmapped.append(UnmappedSample(name, str(test_idx), None, where, kind, reason))

    errored = result.get("failureReason") == _ERROR
    if errored and mapping.errors == "exclude":
        leave_out("error", f"errored: {_first_line(result.get('error'))}")
        return
    if errored:
        passed, shown = False, "error"
    else:
        kind, passed, shown = _verdict(result, mapping)
        if kind == "no_score":
            leave_out("no_score", shown)
            return
        if kind == "problem":
            found.problem(name, f"{where}: {shown}")
            return
    action, action_from = _first(mapping.action, header, result)
    if action is None:
        leave_out("no_action", f"no action class (none of {', '.join(mapping.action)})")
        return
    moment, time_from = _first(mapping.timestamp, header, result)
    if moment is None:
        leave_out("no_timestamp", f"no timestamp (none of {', '.join(mapping.timestamp)})")
        return
    adversarial = _adversarial(result, mapping)
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
            "task": str(header["suite"] or ""),
            "eval_id": header["eval_id"],
            "sample_id": str(test_idx),
            "prompt_idx": str(prompt_idx),
            "model": provider,
            "test": str(_dict(result.get("testCase")).get("description") or ""),
            "score": shown,
        }
    )
    found.origins.append((name, where, {"timestamp": time_from, "action": action_from}))


def _verdict(result: dict[str, Any], mapping: LogMapping) -> tuple[str, bool, str]:
    """("ok", passed, the value as text), ("no_score", False, why) or ("problem", False, line)."""
    field = mapping.scorer or "success"
    if field.startswith("named_scores."):
        metric = field[len("named_scores.") :]
        named = _dict(result.get("namedScores"))
        if metric not in named:
            return (
                "no_score",
                False,
                f"no named score {metric!r} (has {', '.join(named) or 'none'})",
            )
        value = named[metric]
    elif field not in result:
        return "no_score", False, f"no {field!r} field"
    else:
        value = result[field]
    if value is None:
        return "no_score", False, f"{field!r} has no value"
    passed = mapping.judge(value)
    if passed is None:
        line = f"{field!r} value {value!r} is not covered by the mapping ({mapping.covered()})"
        return "problem", False, line
    return "ok", passed, str(value)


def _adversarial(result: dict[str, Any], mapping: LogMapping) -> bool | str:
    """Whether the result is a red-team case, or a line saying why that cannot be told."""
    metadata = _metadata(result)
    plugin = text(metadata.get("pluginId"))
    if plugin and any(fnmatch.fnmatchcase(plugin, p) for p in mapping.adversarial_plugins):
        return True
    for key in mapping.adversarial_metadata:
        if key in metadata:
            value = flag(metadata[key])
            if value is None:
                return f"metadata {key!r} value {metadata[key]!r} is not true or false"
            if value:
                return True
    return False


def _first(
    selectors: tuple[str, ...], header: dict[str, Any], result: dict[str, Any]
) -> tuple[str | None, str]:
    for selector in selectors:
        value = text(_field(selector, header, result))
        if value is not None:
            return value, selector
    return None, ""


def _first_line(message: object) -> str:
    shown = str(message or "").strip()
    return shown.splitlines()[0] if shown else "no error message"
