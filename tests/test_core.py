"""TrustLayer.evaluate: every branch of the decision flow, record(), and keys."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from warrantd import (
    ActionRequest,
    AuditEntry,
    AutonomyState,
    Decision,
    EvalMetrics,
    KillSwitch,
    TrustLayer,
    TrustPolicy,
    Verdict,
    normalized_idempotency_key,
)
from warrantd.core import TrustLayer as TrustLayerFromModule
from warrantd.keys import idempotency_key

M, S, A = AutonomyState.MANUAL, AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
EARN = {
    M: EvalMetrics(0.5, 0.5, 10),
    S: EvalMetrics(0.85, 0.75, 100),
    A: EvalMetrics(0.99, 0.99, 500),
}


class Metrics:
    def __init__(self, state: AutonomyState = S) -> None:
        self.state = state
        self.calls: list[str] = []

    def metrics_for(self, action: str) -> EvalMetrics:
        self.calls.append(action)
        return EARN[self.state]


class Audit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


def layer(policy: TrustPolicy, state: AutonomyState = S, **kw: object) -> TrustLayer:
    return TrustLayer(policy, Metrics(state), Audit(), **kw)  # type: ignore[arg-type]


def verdict(trust: TrustLayer, action: str, value: str | None = None) -> Decision:
    return trust.evaluate(ActionRequest(action, "acme", None if value is None else Decimal(value)))


def test_exported_from_module() -> None:
    assert TrustLayerFromModule is TrustLayer


@pytest.mark.parametrize("state", [M, S, A])
@pytest.mark.parametrize("value", [None, "0", "999999999"])
def test_read_is_always_allowed(
    policy: TrustPolicy, state: AutonomyState, value: str | None
) -> None:
    d = verdict(layer(policy, state), "read_ledger", value)
    assert d.verdict is Verdict.ALLOW
    assert d.autonomy_state is state
    assert "READ" in d.reason


@pytest.mark.parametrize("state", [M, S, A])
def test_above_hard_cap_blocks_in_every_state(policy: TrustPolicy, state: AutonomyState) -> None:
    d = verdict(layer(policy, state), "issue_refund", "1000.01")
    assert d.verdict is Verdict.BLOCK
    assert "hard_cap" in d.reason


def test_exactly_at_hard_cap_is_not_blocked(policy: TrustPolicy) -> None:
    assert verdict(layer(policy, A), "issue_refund", "1000").verdict is Verdict.ALLOW
    assert verdict(layer(policy, S), "issue_refund", "1000").verdict is Verdict.REQUIRE_APPROVAL


@pytest.mark.parametrize("value", [None, "0", "50", "1000"])
def test_manual_requires_approval(policy: TrustPolicy, value: str | None) -> None:
    d = verdict(layer(policy, M), "issue_refund", value)
    assert (d.verdict, d.autonomy_state) == (Verdict.REQUIRE_APPROVAL, M)
    assert "MANUAL" in d.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Verdict.ALLOW),
        ("0", Verdict.ALLOW),
        ("100", Verdict.ALLOW),  # exactly at auto_cap
        ("100.01", Verdict.REQUIRE_APPROVAL),
        ("999", Verdict.REQUIRE_APPROVAL),
    ],
)
def test_supervised_respects_auto_cap(
    policy: TrustPolicy, value: str | None, expected: Verdict
) -> None:
    d = verdict(layer(policy, S), "issue_refund", value)
    assert (d.verdict, d.autonomy_state) == (expected, S)
    if expected is Verdict.REQUIRE_APPROVAL:
        assert "auto_cap" in d.reason


def test_supervised_without_auto_cap_allows(policy: TrustPolicy) -> None:
    assert verdict(layer(policy, S), "open_ticket", "1e9").verdict is Verdict.ALLOW


def test_autonomous_allows_up_to_hard_cap(policy: TrustPolicy) -> None:
    d = verdict(layer(policy, A), "issue_refund", "999")
    assert (d.verdict, d.autonomy_state) == (Verdict.ALLOW, A)


def test_unknown_action_raises_key_error_naming_it(policy: TrustPolicy) -> None:
    with pytest.raises(KeyError, match="delete_everything"):
        verdict(layer(policy), "delete_everything")


def test_every_decision_has_a_reason(policy: TrustPolicy) -> None:
    for state in (M, S, A):
        for action in ("read_ledger", "issue_refund", "open_ticket"):
            for value in (None, "5", "500", "5000"):
                assert verdict(layer(policy, state), action, value).reason.strip()


class TestKillSwitch:
    def test_global_trip_wins_over_everything(self, policy: TrustPolicy) -> None:
        ks = KillSwitch()
        trust = layer(policy, A, kill_switch=ks)
        ks.trip()
        for action in ("read_ledger", "issue_refund"):
            d = verdict(trust, action, "1")
            assert (d.verdict, d.autonomy_state) == (Verdict.BLOCK, M)
            assert "kill switch" in d.reason

    def test_per_action_trip_only_stops_that_action(self, policy: TrustPolicy) -> None:
        ks = KillSwitch()
        trust = layer(policy, A, kill_switch=ks)
        ks.trip("issue_refund")
        assert verdict(trust, "issue_refund").verdict is Verdict.BLOCK
        assert verdict(trust, "open_ticket").verdict is Verdict.ALLOW

    def test_tripped_verdict_can_be_approval(self, policy: TrustPolicy) -> None:
        ks = KillSwitch()
        trust = layer(policy, A, kill_switch=ks, tripped_verdict=Verdict.REQUIRE_APPROVAL)
        ks.trip("read_ledger")
        d = verdict(trust, "read_ledger")
        assert (d.verdict, d.autonomy_state) == (Verdict.REQUIRE_APPROVAL, M)

    def test_tripped_verdict_allow_is_rejected(self, policy: TrustPolicy) -> None:
        with pytest.raises(ValueError, match="tripped_verdict"):
            layer(policy, tripped_verdict=Verdict.ALLOW)

    def test_trip_checked_before_unknown_action(self, policy: TrustPolicy) -> None:
        ks = KillSwitch()
        ks.trip()
        assert verdict(layer(policy, kill_switch=ks), "not_in_policy").verdict is Verdict.BLOCK

    def test_scoping(self) -> None:
        ks = KillSwitch()
        assert not ks.is_tripped() and not ks.is_tripped("a")
        ks.trip("a")
        assert ks.is_tripped("a") and not ks.is_tripped("b") and not ks.is_tripped()
        ks.trip()
        assert ks.is_tripped() and ks.is_tripped("b")
        ks.reset()  # global reset keeps the per-action trip
        assert not ks.is_tripped() and ks.is_tripped("a") and not ks.is_tripped("b")
        ks.reset("a")
        assert not ks.is_tripped("a")
        ks.reset("never-tripped")  # resetting an untripped switch is harmless

    def test_reset_action_does_not_lift_global(self) -> None:
        ks = KillSwitch()
        ks.trip()
        ks.reset("a")
        assert ks.is_tripped("a")

    def test_default_switch_is_created(self, policy: TrustPolicy) -> None:
        trust = layer(policy, A)
        trust.kill_switch.trip("issue_refund")
        assert verdict(trust, "issue_refund").verdict is Verdict.BLOCK


def test_metrics_are_read_for_the_named_action(policy: TrustPolicy) -> None:
    metrics = Metrics(S)
    trust = TrustLayer(policy, metrics, Audit())
    verdict(trust, "issue_refund", "5")
    assert metrics.calls == ["issue_refund"]


def test_record_hands_entry_to_sink(policy: TrustPolicy) -> None:
    audit = Audit()
    trust = TrustLayer(policy, Metrics(), audit)
    req = ActionRequest("issue_refund", "acme", Decimal("5"))
    entry = AuditEntry(
        req,
        trust.evaluate(req),
        None,
        True,
        TrustLayer.idempotency_key(req),
        datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    asyncio.run(trust.record(entry))
    assert audit.entries == [entry]
    assert entry.error is None and entry.approved is None


def sha(text: str) -> str:
    """SHA-256 hex of a canonical JSON text written out by hand in a test."""
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class TestIdempotencyKey:
    """The published key (warrantd 0.1.0, warrantd-core 0.3.0), byte for byte.

    Each expected key is the SHA-256 of the canonical JSON text written out by
    hand: sorted keys, no spaces, non-ASCII as \\uXXXX, the value as str(value),
    anything JSON cannot encode as its str().
    """

    key = staticmethod(TrustLayer.idempotency_key)

    def test_is_sha256_hex(self) -> None:
        k = self.key(ActionRequest("a", "t"))
        assert len(k) == 64 and int(k, 16) >= 0

    def test_known_value(self) -> None:
        # The canonical JSON is '{"action":"a","params":{},"tenant_id":"t","value":null}'.
        assert self.key(ActionRequest("a", "t")) == (
            "db292150bdbc79c2c2c71d7957068efa42829b10e22f602fc58151daca64dc73"
        )

    @pytest.mark.parametrize(
        ("value", "spelled"),
        [
            (Decimal("250"), "250"),
            (Decimal("250.00"), "250.00"),
            (Decimal("1E+2"), "1E+2"),
            (Decimal("-0"), "-0"),
            (Decimal("0.000001"), "0.000001"),
            (Decimal("1E-7"), "1E-7"),
        ],
    )
    def test_value_is_spelled_as_str(self, value: Decimal, spelled: str) -> None:
        assert self.key(ActionRequest("a", "t", value)) == sha(
            f'{{"action":"a","params":{{}},"tenant_id":"t","value":"{spelled}"}}'
        )

    def test_equal_decimals_spelled_differently_give_different_keys(self) -> None:
        # As published: a key stored by 0.1.0 for Decimal("250.00") must still match.
        assert self.key(ActionRequest("a", "t", Decimal("250.00"))) != self.key(
            ActionRequest("a", "t", Decimal("250"))
        )

    def test_params_known_bytes(self) -> None:
        params = {
            "b": [1, 2.5, {"z": None, "a": True}],
            "a": Decimal("1.50"),
            "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            "id": UUID("12345678-1234-5678-1234-567812345678"),
            "f": 1.0,
            "n": float("nan"),
            "t": (1, "x"),
        }
        expected = (
            '{"action":"a","params":{"a":"1.50","b":[1,2.5,{"a":true,"z":null}],'
            '"f":1.0,"id":"12345678-1234-5678-1234-567812345678","n":NaN,"t":[1,"x"],'
            '"when":"2026-01-02 03:04:05+00:00"},"tenant_id":"t","value":null}'
        )
        assert self.key(ActionRequest("a", "t", params=params)) == sha(expected)

    def test_non_ascii_is_escaped(self) -> None:
        req = ActionRequest(
            "r\u00e9sum\u00e9", "t\u00fc", None, {"note": "caf\u00e9 \u2713", "\u00e9": 1}
        )
        expected = (
            '{"action":"r\\u00e9sum\\u00e9","params":{"note":"caf\\u00e9 \\u2713","\\u00e9":1},'
            '"tenant_id":"t\\u00fc","value":null}'
        )
        assert self.key(req) == sha(expected)

    def test_other_objects_are_written_as_their_str(self) -> None:
        class Ticket:
            def __str__(self) -> str:
                return "ticket-7"

        assert self.key(ActionRequest("a", "t", params={"x": Ticket()})) == sha(
            '{"action":"a","params":{"x":"ticket-7"},"tenant_id":"t","value":null}'
        )

    def test_int_keys_become_strings_and_mixed_keys_cannot_sort(self) -> None:
        assert self.key(ActionRequest("a", "t", params={"p": {2: "x"}})) == sha(
            '{"action":"a","params":{"p":{"2":"x"}},"tenant_id":"t","value":null}'
        )
        with pytest.raises(TypeError):
            self.key(ActionRequest("a", "t", params={"p": {2: "x", "y": 1}}))

    def test_param_order_does_not_matter(self) -> None:
        a = ActionRequest("a", "t", Decimal(1), {"x": 1, "y": {"p": 1, "q": 2}})
        b = ActionRequest("a", "t", Decimal(1), {"y": {"q": 2, "p": 1}, "x": 1})
        assert self.key(a) == self.key(b)

    def test_none_differs_from_zero(self) -> None:
        assert self.key(ActionRequest("a", "t", None)) != self.key(
            ActionRequest("a", "t", Decimal(0))
        )

    @pytest.mark.parametrize(
        "other",
        [
            ActionRequest("b", "t", Decimal(5), {"k": 1}),
            ActionRequest("a", "u", Decimal(5), {"k": 1}),
            ActionRequest("a", "t", Decimal(6), {"k": 1}),
            ActionRequest("a", "t", Decimal(5), {"k": 2}),
            ActionRequest("a", "t", Decimal(5), {"j": 1}),
        ],
    )
    def test_any_field_changes_the_key(self, other: ActionRequest) -> None:
        assert self.key(ActionRequest("a", "t", Decimal(5), {"k": 1})) != self.key(other)

    def test_is_the_keys_module_function(self) -> None:
        assert TrustLayer.idempotency_key is idempotency_key


class TestNormalizedKey:
    """warrantd's opt-in key: equal values spelled alike."""

    key = staticmethod(normalized_idempotency_key)

    def test_known_value(self) -> None:
        req = ActionRequest("a", "t", Decimal("250.00"), {"n": 1.0, "note": "caf\u00e9"})
        expected = (
            '{"action":"a","params":{"n":1,"note":"caf\u00e9"},"tenant_id":"t","value":"250"}'
        )
        assert self.key(req) == hashlib.sha256(expected.encode("utf-8")).hexdigest()

    def test_differs_from_the_published_key(self) -> None:
        req = ActionRequest("a", "t", Decimal("250.00"))
        assert self.key(req) != TrustLayer.idempotency_key(req)

    def test_equal_decimals_give_equal_keys(self) -> None:
        assert self.key(ActionRequest("a", "t", Decimal("1.0"))) == self.key(
            ActionRequest("a", "t", Decimal("1"))
        )
        assert self.key(ActionRequest("a", "t", Decimal("100"))) == self.key(
            ActionRequest("a", "t", Decimal("1E+2"))
        )

    def test_unencodable_param_is_a_clear_error(self) -> None:
        with pytest.raises(TypeError, match="object"):
            self.key(ActionRequest("a", "t", params={"x": object()}))
        with pytest.raises(TypeError, match="datetime"):
            self.key(ActionRequest("a", "t", params={"x": datetime(2026, 1, 1)}))

    def test_float_equal_to_int_gives_same_key(self) -> None:
        assert self.key(ActionRequest("a", "t", params={"n": 1.0})) == self.key(
            ActionRequest("a", "t", params={"n": 1})
        )
        assert self.key(ActionRequest("a", "t", params={"n": 1.5})) != self.key(
            ActionRequest("a", "t", params={"n": 1})
        )

    def test_lists_and_tuples_are_sequences(self) -> None:
        assert self.key(ActionRequest("a", "t", params={"xs": [1, 2]})) == self.key(
            ActionRequest("a", "t", params={"xs": (1, 2)})
        )
        assert self.key(ActionRequest("a", "t", params={"xs": [1, 2]})) != self.key(
            ActionRequest("a", "t", params={"xs": [2, 1]})
        )

    def test_negative_zero_and_infinity(self) -> None:
        assert self.key(ActionRequest("a", "t", Decimal("-0"))) == self.key(
            ActionRequest("a", "t", Decimal("0.00"))
        )
        assert self.key(ActionRequest("a", "t", Decimal("Infinity"))) != self.key(
            ActionRequest("a", "t", Decimal("-Infinity"))
        )

    def test_bool_differs_from_int(self) -> None:
        assert self.key(ActionRequest("a", "t", params={"f": True})) != self.key(
            ActionRequest("a", "t", params={"f": 1})
        )
