"""Hypothesis strategies for differential cases, and their tagged-JSON encoding.

A case is everything one comparison needs (policy, metrics, signal readings,
approval records, kill switch, request), as JSON that ``worker.py`` turns back
into the very same Python objects in each interpreter. Request params are drawn
as Python objects (decimals with exponents, floats with NaN and -0.0, aware and
naive datetimes, UUIDs, bytes, non-ASCII text, nesting, dicts with int keys,
objects JSON cannot encode) and encoded with tags JSON has no type for.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from warrantd import AutonomyState, RiskTier, Verdict


class Opaque:
    """An object JSON cannot encode, with a fixed ``str()`` (as in worker.py)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def encode(value: Any) -> Any:
    """Tagged JSON for ``value``; ``worker.decode`` rebuilds an identical object."""
    if isinstance(value, enum.Enum):  # before int: AutonomyState is an IntEnum
        return {"$enum": [type(value).__name__, value.name]}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"$float": repr(value)}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, frozenset):
        return {"$fset": sorted(value)}
    if isinstance(value, Opaque):
        return {"$obj": value.text}
    if isinstance(value, dict):
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot encode {value!r}")


# --- numbers -----------------------------------------------------------------------

GRID = [0.0, 0.25, 0.5, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
rates = st.one_of(
    st.sampled_from(GRID),
    st.floats(0.0, 1.0),
    st.floats(allow_nan=True, allow_infinity=True, width=32),  # rare, out of range
)
counts = st.one_of(st.sampled_from([0, 1, 49, 50, 51, 199, 200, 201]), st.integers(0, 10_000))

# Decimals as people spell them: exponents, trailing zeros, signed zeros, specials.
spelled = st.sampled_from(
    [
        "250",
        "250.00",
        "2.5E+2",
        "2.50E2",
        "1E+2",
        "100",
        "100.0",
        "-0",
        "0",
        "0E-3",
        "0.000001",
        "1E-7",
        "1000",
        "1000.01",
        "99.99",
        "-5",
        "1e3",
        "12345678901234567890.123456789",
    ]
).map(Decimal)
tupled = st.builds(
    lambda sign, digits, exp: Decimal((sign, tuple(digits), exp)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=7),
    st.integers(-9, 9),
)
finite_decimals = st.one_of(
    spelled, tupled, st.decimals(allow_nan=False, allow_infinity=False, places=2)
)
special_decimals = st.sampled_from(["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"]).map(Decimal)
decimals = st.one_of(finite_decimals, finite_decimals, finite_decimals, special_decimals)

# --- params ------------------------------------------------------------------------

timezones = st.one_of(
    st.none(),
    st.just(timezone.utc),
    st.builds(timezone, st.timedeltas(timedelta(hours=-23, minutes=-59), timedelta(hours=23))),
)
enum_members = st.sampled_from([*Verdict, *RiskTier, *AutonomyState])
texts = st.text(max_size=8)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    texts,
    st.floats(allow_nan=True, allow_infinity=True),
    decimals,
    st.datetimes(timezones=timezones),
    st.dates(),
    st.uuids(),
    st.binary(max_size=6),
    st.frozensets(st.integers(0, 4), max_size=4),  # small ints: a fixed iteration order
    texts.map(Opaque),
    enum_members,
)
dict_keys = st.one_of(
    texts, texts, texts, st.integers(-5, 5), st.floats(allow_nan=False), st.booleans(), st.none()
)


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(texts, inner, max_size=3),
        st.dictionaries(dict_keys, inner, max_size=3),  # int keys, sometimes mixed: TypeError
    )


param_values = st.recursive(leaves, containers, max_leaves=8)
params = st.one_of(
    st.dictionaries(texts, param_values, max_size=4),
    st.dictionaries(dict_keys, param_values, max_size=3),
)

ACTION_NAMES = ["read_ledger", "issue_refund", "cancel_subscription", "r\u00e9sum\u00e9", "x"]


# Cheaper params for the decision cases (the key test draws the rich ones).
simple_params = st.dictionaries(
    st.sampled_from(["id", "note", "\u00e9t\u00e9", "n"]),
    st.one_of(st.none(), st.integers(-5, 5), spelled, st.sampled_from(["x", "caf\u00e9", ""])),
    max_size=2,
)


@st.composite
def requests(
    draw: st.DrawFn,
    known: list[str] | None = None,
    params: st.SearchStrategy[Any] = params,
) -> dict[str, Any]:
    """An encoded ActionRequest; its action mostly one of ``known``."""
    names = st.sampled_from(known) if known else st.sampled_from(ACTION_NAMES)
    action = draw(st.one_of(names, names, names, st.text(min_size=1, max_size=8)))
    return {
        "action": action,
        "tenant_id": draw(st.text(max_size=10)),
        "value": encode(draw(st.none() | decimals)),
        "params": encode(draw(params)),
    }


# --- policies, metrics, signals -----------------------------------------------------


@st.composite
def thresholds(draw: st.DrawFn) -> dict[str, list[list[Any]]]:
    """Bars per criterion as [state, bar] pairs: mostly valid, sometimes unordered,
    now and then missing a bar or carrying a MANUAL one (both possible in code)."""
    ordered = draw(st.booleans())
    out = {}
    for criterion, values in (
        ("pass_rate", rates),
        ("adversarial_pass_rate", rates),
        ("min_samples", counts),
    ):
        low, high = draw(values), draw(values)
        if ordered and high < low:
            low, high = high, low
        bars = {1: low, 2: high}
        if draw(st.integers(0, 19)) == 0:
            del bars[draw(st.sampled_from([1, 2]))]
        if draw(st.integers(0, 19)) == 0:
            bars[0] = draw(values)
        out[criterion] = [[s, encode(b) if isinstance(b, float) else b] for s, b in bars.items()]
    return out


def bar_values(t: dict[str, list[list[Any]]], criterion: str) -> list[Any]:
    return [bar for _, bar in t[criterion]]


@st.composite
def metrics_for(draw: st.DrawFn, t: dict[str, list[list[Any]]]) -> list[Any]:
    """[pass_rate, adversarial_pass_rate, sample_size], often exactly on a bar."""
    triple = []
    for criterion, values in (
        ("pass_rate", rates),
        ("adversarial_pass_rate", rates),
        ("min_samples", counts),
    ):
        on_bar = bar_values(t, criterion)
        value = draw(st.sampled_from(on_bar)) if on_bar and draw(st.booleans()) else None
        if value is None:
            drawn = draw(values)
            value = encode(drawn) if isinstance(drawn, float) else drawn
        triple.append(value)
    return triple


@st.composite
def actions(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(ACTION_NAMES), min_size=1, max_size=3, unique=True))
    caps = st.one_of(st.none(), spelled, tupled, special_decimals)
    return [
        {
            "name": name,
            "risk": draw(st.sampled_from([t.name for t in RiskTier])),
            "auto_cap": encode(draw(caps)),
            "hard_cap": encode(draw(caps)),
            "max_state": draw(st.integers(0, 2)),
        }
        for name in names
    ]


@st.composite
def tables(draw: st.DrawFn, t: dict[str, list[list[Any]]], names: list[str]) -> dict[str, Any]:
    """Metrics per action; an action may be missing (the provider then says 0, 0, 0)."""
    return {name: draw(metrics_for(t)) for name in names if draw(st.integers(0, 5))}


APPROVERS = [None, "ana", "j\u00f6rg", None]


@st.composite
def records(draw: st.DrawFn, names: list[str]) -> list[list[Any]]:
    """ApprovalRecord fields (action, approved, overridden, error, timestamp, approver),
    one per drawn byte: a byte below the bias is a clean approval, any other byte picks
    its flags from its bits (a denial, an override, an error, or several)."""
    pool = [*names, "other"]
    bias = draw(st.sampled_from([0, 128, 230, 256]))
    blob = draw(st.binary(max_size=40))
    stamped = draw(st.booleans())
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = []
    for i, byte in enumerate(blob):
        clean = byte < bias
        approved, overridden, error = (
            (True, False, False) if clean else (bool(byte & 1), bool(byte & 2), bool(byte & 4))
        )
        out.append(
            [
                pool[(byte >> 3) % len(pool)],
                approved,
                overridden,
                error,
                encode(start + timedelta(minutes=37 * i)) if stamped else None,
                APPROVERS[i % len(APPROVERS)],
            ]
        )
    return out


windows = st.one_of(st.none(), st.integers(0, 50), st.integers(-3, -1))


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A full case for the decide and signals operations."""
    t = draw(thresholds())
    acts = draw(actions())
    names = [a["name"] for a in acts]
    signal_specs = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["evals", "approvals", "custom"]))
        if kind == "approvals":
            signal_specs.append({"kind": kind, "window": draw(windows)})
        else:
            spec: dict[str, Any] = {"kind": kind, "table": draw(tables(t, names))}
            if kind == "custom":
                spec["adversarial"] = draw(st.booleans())
            signal_specs.append(spec)
    return {
        "thresholds": t,
        "actions": acts,
        "metrics": draw(tables(t, names)),
        "readings": [
            [*draw(metrics_for(t)), draw(st.booleans())] for _ in range(draw(st.integers(0, 4)))
        ],
        "records": draw(records(names)),
        "window": draw(windows),
        "signals": signal_specs,
        "request": draw(requests(names, simple_params)),
        "kill": {
            "global": draw(st.integers(0, 9)) == 0,
            "actions": draw(st.lists(st.sampled_from([*names, "other"]), max_size=1))
            if draw(st.integers(0, 5)) == 0
            else [],
        },
        "tripped": draw(st.sampled_from(["BLOCK"] * 3 + ["REQUIRE_APPROVAL"] * 2 + ["ALLOW"])),
    }
