"""Differential worker: drives whichever ``warrantd`` its interpreter imports.

Run by three interpreters: the published ``warrantd==0.1.0`` and
``warrantd-core==0.3.0`` in their own virtual environments, and ours. It reads
one JSON object per line on stdin (a *case*, see ``tests/compat/cases.py``)
and answers one JSON object per line on stdout: what the package said, or the
name of the exception it raised. The test compares the answers.

Stdlib only, and nothing here decides anything: every answer comes from the
package under test. Values that JSON cannot carry arrive tagged
(``{"$dec": "1E+2"}``, ``{"$dt": "2026-01-02T03:04:05+00:00"}``, ...) and are
rebuilt into exactly the Python objects the test generated.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import traceback
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import warrantd
from warrantd import (
    ActionClass,
    ActionRequest,
    AutonomyState,
    EvalMetrics,
    GraduationEngine,
    GraduationThresholds,
    KillSwitch,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    Verdict,
)

HAS_SIGNALS = hasattr(warrantd, "SignalReading")


class Opaque:
    """An object JSON cannot encode, with a fixed ``str()`` (no memory address)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def decode(value: Any) -> Any:
    """Rebuild the Python value the test encoded (see ``cases.encode``)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    ((tag, body),) = value.items()
    if tag == "$float":
        return float(body)
    if tag == "$dec":
        return Decimal(body)
    if tag == "$dt":
        return datetime.fromisoformat(body)
    if tag == "$date":
        return date.fromisoformat(body)
    if tag == "$uuid":
        return UUID(body)
    if tag == "$tuple":
        return tuple(decode(v) for v in body)
    if tag == "$bytes":
        return bytes.fromhex(body)
    if tag == "$fset":
        return frozenset(body)
    if tag == "$obj":
        return Opaque(body)
    if tag == "$enum":
        cls, name = body
        return getattr(warrantd, cls)[name]
    if tag == "$dict":
        return {decode(k): decode(v) for k, v in body}
    raise ValueError(f"unknown tag {tag!r}")


def run_to_end(coroutine: Any) -> Any:
    """Drive a coroutine that never suspends (no event loop: it is per case)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the coroutine suspended")


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``{"ok": result}`` or ``{"error": exception type name}``."""
    try:
        return {"ok": fn(*args, **kwargs)}
    except Exception as exc:
        return {"error": type(exc).__name__}


def build_policy(case: dict[str, Any]) -> TrustPolicy:
    bars: dict[str, dict[AutonomyState, Any]] = {}
    for criterion, pairs in case["thresholds"].items():
        bars[criterion] = {AutonomyState(state): decode(bar) for state, bar in pairs}
    thresholds = GraduationThresholds(
        pass_rate=bars["pass_rate"],
        adversarial_pass_rate=bars["adversarial_pass_rate"],
        min_samples=bars["min_samples"],
    )
    actions = {}
    for spec in case["actions"]:
        actions[spec["name"]] = ActionClass(
            name=spec["name"],
            risk=RiskTier[spec["risk"]],
            auto_cap=decode(spec["auto_cap"]),
            hard_cap=decode(spec["hard_cap"]),
            max_state=AutonomyState(spec["max_state"]),
        )
    return TrustPolicy(actions=actions, thresholds=thresholds)


def metrics_of(triple: list[Any]) -> EvalMetrics:
    p, a, n = triple
    return EvalMetrics(decode(p), decode(a), n)


class Table:
    """A MetricsProvider over a fixed table that counts its reads."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = {action: metrics_of(m) for action, m in table.items()}
        self.reads = 0

    def metrics_for(self, action: str) -> EvalMetrics:
        self.reads += 1
        return self.table.get(action, EvalMetrics(0.0, 0.0, 0))


class Custom(Table):
    """A TrustSignal of the application's own, adversarial or not."""

    def __init__(self, table: dict[str, Any], adversarial: bool) -> None:
        super().__init__(table)
        self._adversarial = adversarial

    @property
    def adversarial(self) -> bool:
        return self._adversarial


class Audit:
    def __init__(self) -> None:
        self.entries: list[Any] = []

    async def record(self, entry: Any) -> None:
        self.entries.append(entry)


def request_of(case: dict[str, Any]) -> ActionRequest:
    spec = case["request"]
    return ActionRequest(
        action=spec["action"],
        tenant_id=spec["tenant_id"],
        value=decode(spec["value"]),
        params=decode(spec["params"]),
    )


def kill_switch_of(case: dict[str, Any]) -> KillSwitch:
    ks = KillSwitch()
    if case["kill"]["global"]:
        ks.trip()
    for action in case["kill"]["actions"]:
        ks.trip(action)
    return ks


def decision(d: Any) -> Any:
    return [d.verdict.value, d.verdict.name, int(d.autonomy_state), d.autonomy_state.name]


def state(s: Any) -> Any:
    return [int(s), s.name]


def as_state(fn: Any, *args: Any) -> Any:
    return state(fn(*args))


def as_list(m: Any) -> Any:
    # The published fields only: fields we add after them are optional (checked by the
    # API comparison) and have no published value to compare.
    return [m.pass_rate, m.adversarial_pass_rate, m.sample_size]


ZERO = [0.0, 0.0, 0]


def op_key(case: dict[str, Any]) -> dict[str, Any]:
    req = request_of(case)
    return {"key": outcome(TrustLayer.idempotency_key, req)}


def op_decide(case: dict[str, Any]) -> dict[str, Any]:
    """The 0.1.0 surface: allowed_state, evaluate with one metrics provider, keys."""
    policy = build_policy(case)
    req = request_of(case)
    tripped = Verdict[case["tripped"]]
    engine = GraduationEngine(policy.thresholds)
    allowed = {
        name: outcome(
            as_state, engine.allowed_state, action, metrics_of(case["metrics"].get(name, ZERO))
        )
        for name, action in policy.actions.items()
    }
    table = Table(case["metrics"])

    def evaluate() -> Any:
        trust = TrustLayer(policy, table, Audit(), kill_switch_of(case), tripped)
        return decision(trust.evaluate(req))

    def evaluate_keywords() -> Any:
        trust = TrustLayer(
            policy=policy,
            metrics=Table(case["metrics"]),
            audit=Audit(),
            kill_switch=kill_switch_of(case),
            tripped_verdict=tripped,
        )
        return decision(trust.evaluate(req))

    def record() -> Any:
        audit = Audit()
        trust = TrustLayer(policy, Table(case["metrics"]), audit)
        entry = warrantd.AuditEntry(
            req,
            warrantd.Decision(Verdict.ALLOW, AutonomyState.MANUAL, "r"),
            None,
            True,
            "k",
            datetime(2026, 1, 1),
        )
        run_to_end(trust.record(entry))
        return len(audit.entries) == 1 and audit.entries[0] is entry

    return {
        "allowed": allowed,
        "evaluate": outcome(evaluate),
        "reads": table.reads,
        "evaluate_keywords": outcome(evaluate_keywords),
        "key": outcome(TrustLayer.idempotency_key, req),
        "record": outcome(record),
    }


def records_of(case: dict[str, Any]) -> list[Any]:
    return [
        warrantd.ApprovalRecord(
            action=action,
            approved=approved,
            overridden=overridden,
            error=error,
            timestamp=decode(timestamp),
            approver=approver,
        )
        for action, approved, overridden, error, timestamp, approver in case["records"]
    ]


class History:
    """The package's InMemoryApprovalHistory, with its reads counted."""

    def __init__(self, records: list[Any]) -> None:
        self.inner = warrantd.InMemoryApprovalHistory()
        for record in records:
            self.inner.add(record)
        self.reads = 0

    def records_for(self, action: str) -> Any:
        self.reads += 1
        return self.inner.records_for(action)


def op_signals(case: dict[str, Any]) -> dict[str, Any]:
    """The warrantd-core 0.3.0 surface: readings, qualifies, approval metrics, signals."""
    policy = build_policy(case)
    req = request_of(case)
    engine = GraduationEngine(policy.thresholds)
    readings = [
        warrantd.SignalReading(metrics=metrics_of(r[:3]), adversarial=r[3])
        for r in case["readings"]
    ]
    combined = {
        name: outcome(as_state, engine.combined_allowed_state, action, readings)
        for name, action in policy.actions.items()
    }
    qualifies = [
        outcome(engine.qualifies, AutonomyState(s), r.metrics, check_adversarial=check)
        for r in readings
        for s in (0, 1, 2)
        for check in (True, False)
    ]
    qualifies_default = [
        outcome(engine.qualifies, AutonomyState(s), r.metrics) for r in readings for s in (1, 2)
    ]
    records = records_of(case)
    window = case["window"]
    history = warrantd.InMemoryApprovalHistory()
    for record in records:
        history.add(record)
    approvals = {
        name: outcome(
            lambda rs: as_list(warrantd.approval_metrics(rs, window=window)),
            history.records_for(name),
        )
        for name in sorted({r.action for r in records} | set(policy.actions) | {"unseen"})
    }
    everything = outcome(lambda: as_list(warrantd.approval_metrics(records, window=window)))
    signals: list[Any] = []
    counters: list[Any] = []
    for spec in case["signals"]:
        if spec["kind"] == "evals":
            table = Table(spec["table"])
            signals.append(warrantd.EvalSuiteSignal(table))
            counters.append(table)
        elif spec["kind"] == "approvals":
            source = History(records)
            signals.append(warrantd.ApprovalHistorySignal(source, window=spec["window"]))
            counters.append(source)
        else:
            custom = Custom(spec["table"], spec["adversarial"])
            signals.append(custom)
            counters.append(custom)
    flags = [s.adversarial for s in signals]
    tripped = Verdict[case["tripped"]]

    def evaluate() -> Any:
        trust = TrustLayer(
            policy,
            audit=Audit(),
            kill_switch=kill_switch_of(case),
            tripped_verdict=tripped,
            signals=signals,
        )
        first = decision(trust.evaluate(req))
        return [first, [c.reads for c in counters]]

    table = Table(case["metrics"])
    refusals = {
        "both": outcome(lambda: TrustLayer(policy, table, Audit(), signals=signals) and None),
        "neither": outcome(lambda: TrustLayer(policy, audit=Audit()) and None),
        "no_audit": outcome(lambda: TrustLayer(policy, table) and None),
        "no_audit_signals": outcome(lambda: TrustLayer(policy, signals=signals) and None),
        "allow_tripped": outcome(
            lambda: TrustLayer(policy, table, Audit(), tripped_verdict=Verdict.ALLOW) and None
        ),
    }
    legacy = outcome(
        lambda: decision(
            TrustLayer(policy, table, Audit(), kill_switch_of(case), tripped).evaluate(req)
        )
    )
    wrapped = outcome(
        lambda: decision(
            TrustLayer(
                policy,
                audit=Audit(),
                kill_switch=kill_switch_of(case),
                tripped_verdict=tripped,
                signals=[warrantd.EvalSuiteSignal(Table(case["metrics"]))],
            ).evaluate(req)
        )
    )
    return {
        "combined": combined,
        "qualifies": qualifies,
        "qualifies_default": qualifies_default,
        "approvals": approvals,
        "approvals_all": everything,
        "flags": flags,
        "evaluate": outcome(evaluate),
        "refusals": refusals,
        "legacy": legacy,
        "wrapped": wrapped,
    }


def describe(obj: Any) -> Any:
    """Names, kinds and defaults of a public callable or class, for the API test."""
    if isinstance(obj, type) and issubclass(obj, (Verdict, RiskTier, AutonomyState)):
        return {"enum": [[m.name, m.value] for m in obj]}
    out: dict[str, Any] = {"module": getattr(obj, "__module__", None)}
    if isinstance(obj, type):
        if dataclasses.is_dataclass(obj):
            out["fields"] = [
                [f.name, repr(f.default) if f.default is not dataclasses.MISSING else None]
                for f in dataclasses.fields(obj)
            ]
            # Fields we add after the published ones must be optional (no call form breaks).
            out["optional_fields"] = [
                f.name
                for f in dataclasses.fields(obj)
                if f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING
            ]
            out["frozen"] = obj.__dataclass_params__.frozen  # type: ignore[attr-defined]
        members = {}
        for name, member in vars(obj).items():
            if name.startswith("_") and name != "__init__":
                continue
            if name == "__init__" and getattr(obj, "_is_protocol", False):
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                members[name] = "property"
            elif callable(member):
                members[name] = signature(member)
            else:
                members[name] = ["attribute", repr(member)]
        out["members"] = members
    elif callable(obj):
        out["signature"] = signature(obj)
    return out


def signature(fn: Any) -> Any:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return [
        [p.name, p.kind.name, None if p.default is inspect.Parameter.empty else repr(p.default)]
        for p in sig.parameters.values()
    ]


def op_api(case: dict[str, Any]) -> dict[str, Any]:
    names = sorted(n for n in warrantd.__all__ if not n.startswith("__"))
    return {
        "version": warrantd.__version__,
        "file": warrantd.__file__,
        "names": names,
        "describe": {name: describe(getattr(warrantd, name)) for name in names},
    }


OPS = {"key": op_key, "decide": op_decide, "signals": op_signals, "api": op_api}


def main() -> None:
    for line in sys.stdin:
        case = json.loads(line)
        try:
            answer = OPS[case["op"]](case)
        except Exception:  # a harness bug, not a package answer: report it whole
            answer = {"harness_error": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer, sort_keys=True) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
