"""Differential tests: ours against the published warrantd 0.1.0 and warrantd-core 0.3.0.

The same Hypothesis-drawn cases go, as JSON lines, to three worker processes
running ``tests/compat/worker.py``: one on our package, one in a venv holding
``warrantd==0.1.0``, one in a venv holding ``warrantd-core==0.3.0`` (both from
the package index, see ``published.py``). Every answer must be equal: verdict
values and names, states, idempotency keys, the exception type where one was
raised, and (with signals) combined states, ``qualifies``, approval metrics and
how often each signal was read. Reasons are not compared: their wording is ours.

Cases per test: 500 (``make test``) or 10,000 with ``WARRANTD_THOROUGH=1``
(``make test-thorough``); each test also checks it ran at least that many.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from warrantd import ActionRequest, TrustLayer

from .cases import cases, requests
from .conftest import COMPARED
from .published import CACHE, ROOT, Worker

CASES = 10_000 if os.environ.get("WARRANTD_THOROUGH") else 500


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two answers differ, as readable paths (empty when equal)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs:
                found.append(f"{path}/{key}: only in {'ours' if key in ours else 'theirs'}")
            else:
                found += differences(ours[key], theirs[key], f"{path}/{key}")
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [
            d
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    return [] if ours == theirs else [f"{path}: ours {ours!r} != published {theirs!r}"]


def compare(workers: dict[str, Worker], case: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    answers = {label: workers[label].ask(case) for label in ["ours", *labels]}
    for label in labels:
        found = differences(answers["ours"], answers[label])
        assert not found, f"{len(found)} differences from {label}:\n" + "\n".join(found[:40])
    return answers


def test_workers_import_the_intended_packages(workers: dict[str, Worker]) -> None:
    """Each worker imports the package it is meant to: ours from this tree, the published
    ones from their own venvs under .cache/."""
    files = {label: Path(w.ask({"op": "api"})["file"]) for label, w in workers.items()}
    versions = {label: w.ask({"op": "api"})["version"] for label, w in workers.items()}
    assert files["ours"] == ROOT / "warrantd" / "__init__.py"
    for label, version in (("0.1.0", "0.1.0"), ("core-0.3.0", "0.3.0")):
        assert files[label].is_relative_to(CACHE / "published-venvs"), files[label]
        assert versions[label] == version


def test_enum_values_names_and_signatures_match(workers: dict[str, Worker]) -> None:
    """Every published name exists in ours, in the same module; enums have the same
    members and values; dataclasses the same fields and defaults; every published
    function and method the same parameters (names, kinds, defaults) in the same order.
    Ours may add names, methods and trailing optional parameters, and may give a
    default to a parameter that had none (TrustLayer's metrics and audit, as 0.3.0 did)."""
    ours = workers["ours"].ask({"op": "api"})["describe"]
    for label in ("0.1.0", "core-0.3.0"):
        theirs = workers[label].ask({"op": "api"})["describe"]
        problems = []
        for name, spec in theirs.items():
            if name not in ours:
                problems.append(f"{name}: missing")
                continue
            problems += [f"{name}{p}" for p in api_differences(ours[name], spec)]
        assert not problems, f"API differences from {label}:\n" + "\n".join(problems)


def api_differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("enum", "module", "frozen"):
        if key in theirs and ours.get(key) != theirs[key]:
            problems.append(f" {key}: ours {ours.get(key)!r}, published {theirs[key]!r}")
    if "fields" in theirs:
        # The published fields, in order, are a prefix of ours; what we add is optional.
        published, mine = theirs["fields"], ours.get("fields") or []
        if mine[: len(published)] != published:
            problems.append(f" fields: ours {mine!r}, published {published!r}")
        optional = ours.get("optional_fields", [])
        for name, _ in mine[len(published) :]:
            if name not in optional:
                problems.append(f" fields: ours adds a required field {name!r}")
    if "signature" in theirs:
        problems += [
            f"{p}" for p in signature_differences(ours.get("signature"), theirs["signature"])
        ]
    for member, spec in theirs.get("members", {}).items():
        mine = ours.get("members", {}).get(member)
        if mine is None:
            problems.append(f".{member}: missing")
        elif _is_attribute(spec) or _is_attribute(mine):
            if mine != spec:
                problems.append(f".{member}: ours {mine!r}, published {spec!r}")
        else:
            problems += [f".{member}{p}" for p in signature_differences(mine, spec)]
    return problems


def _is_attribute(spec: Any) -> bool:
    """A property or a plain class attribute (compared whole), not a signature."""
    return spec == "property" or (isinstance(spec, list) and spec[:1] == ["attribute"])


def signature_differences(ours: Any, theirs: Any) -> list[str]:
    if theirs is None:
        return []
    if ours is None or len(ours) < len(theirs):
        return [f"(): ours {ours!r}, published {theirs!r}"]
    problems = []
    for mine, published in zip(ours[: len(theirs)], theirs, strict=True):
        name, kind, default = published
        if mine[:2] != [name, kind] or (default is not None and mine[2] != default):
            problems.append(f"({name}): ours {mine!r}, published {published!r}")
    for name, kind, default in ours[len(theirs) :]:
        if default is None and kind not in ("VAR_POSITIONAL", "VAR_KEYWORD"):
            problems.append(f"({name}): ours adds a required parameter")
    return problems


def test_idempotency_keys_match(workers: dict[str, Worker]) -> None:
    """Keys are byte-identical to 0.1.0 and 0.3.0 for every request, including decimals
    with exponents, floats, datetimes, UUIDs, non-ASCII, nesting and unencodable objects;
    and the worker's key of ours equals the key computed here (the encoding is exact)."""
    seen = [0]

    @settings(max_examples=CASES)
    @given(requests())
    def check(request: dict[str, Any]) -> None:
        seen[0] += 1
        answers = compare(workers, {"op": "key", "request": request}, ["0.1.0", "core-0.3.0"])
        assert answers["ours"]["key"] == _local_key(request)

    check()
    COMPARED["keys"] = seen[0]
    assert seen[0] >= CASES


def _local_key(request: dict[str, Any]) -> Any:
    from . import worker

    req = ActionRequest(
        request["action"],
        request["tenant_id"],
        worker.decode(request["value"]),
        worker.decode(request["params"]),
    )
    try:
        return {"ok": TrustLayer.idempotency_key(req)}
    except Exception as exc:
        return {"error": type(exc).__name__}


def test_decisions_and_signals_match(workers: dict[str, Worker]) -> None:
    """Per drawn case, two comparisons.

    Against 0.1.0 and 0.3.0: allowed_state for every class; evaluate() with one metrics
    provider (positional and keyword construction, kill switches, tripped verdicts,
    unknown actions, NaN and signed-zero values) and how often it read the metrics;
    the key; record().

    Against 0.3.0: combined_allowed_state over the drawn readings; qualifies with and
    without the adversarial bar, MANUAL included; approval_metrics per action and over
    all records, with every kind of window; TrustLayer over evals, approvals and custom
    signals (the verdict, and how often each signal was read); the constructor's
    refusals; and the metrics form against an explicit EvalSuiteSignal.
    """
    seen = [0]

    @settings(max_examples=CASES)
    @given(cases())
    def check(case: dict[str, Any]) -> None:
        seen[0] += 1
        compare(workers, {"op": "decide", **case}, ["0.1.0", "core-0.3.0"])
        answers = compare(workers, {"op": "signals", **case}, ["core-0.3.0"])
        assert answers["ours"]["legacy"] == answers["ours"]["wrapped"]

    check()
    COMPARED["decisions and signals"] = seen[0]
    assert seen[0] >= CASES
