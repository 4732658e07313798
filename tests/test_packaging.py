"""The core stays stdlib-only, typed, and importable both ways users import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import warrantd

ROOT = Path(__file__).resolve().parents[1]


def test_core_import_pulls_in_no_heavy_dependency() -> None:
    code = (
        "import sys, warrantd, warrantd.policyfile, warrantd.core\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'matplotlib', 'pyarrow', 'click')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "warrantd" / "py.typed").exists()


def test_public_api_names() -> None:
    published = {
        "ActionClass",
        "ActionRequest",
        "ApprovalGate",
        "AuditEntry",
        "AuditSink",
        "AutonomyState",
        "Decision",
        "EvalMetrics",
        "GraduationEngine",
        "GraduationThresholds",
        "KillSwitch",
        "MetricsProvider",
        "RiskTier",
        "TrustLayer",
        "TrustPolicy",
        "Verdict",
        # warrantd-core 0.3.0
        "ApprovalHistorySignal",
        "ApprovalHistorySource",
        "ApprovalRecord",
        "EvalSuiteSignal",
        "InMemoryApprovalHistory",
        "SignalReading",
        "TrustSignal",
        "approval_metrics",
        # ours
        "load_policy",
        "dump_policy",
        "PolicyError",
        "normalized_idempotency_key",
        "ceiling",
    }
    assert published <= set(warrantd.__all__)
    for name in published:
        assert getattr(warrantd, name) is not None


def test_names_importable_from_their_modules() -> None:
    from warrantd.audit import AuditEntry
    from warrantd.autonomy import AutonomyState
    from warrantd.core import TrustLayer
    from warrantd.decision import ActionClass, ActionRequest, Decision, EvalMetrics, Verdict
    from warrantd.graduation import GraduationEngine, GraduationThresholds, SignalReading
    from warrantd.killswitch import KillSwitch
    from warrantd.policy import TrustPolicy
    from warrantd.protocols import ApprovalGate, AuditSink, MetricsProvider, TrustSignal
    from warrantd.risk import RiskTier
    from warrantd.signals import (
        ApprovalHistorySignal,
        ApprovalHistorySource,
        ApprovalRecord,
        EvalSuiteSignal,
        InMemoryApprovalHistory,
        approval_metrics,
    )

    assert (AuditEntry, AutonomyState, TrustLayer, ActionClass, ActionRequest) == (
        warrantd.AuditEntry,
        warrantd.AutonomyState,
        warrantd.TrustLayer,
        warrantd.ActionClass,
        warrantd.ActionRequest,
    )
    assert (Decision, EvalMetrics, Verdict, GraduationEngine, GraduationThresholds) == (
        warrantd.Decision,
        warrantd.EvalMetrics,
        warrantd.Verdict,
        warrantd.GraduationEngine,
        warrantd.GraduationThresholds,
    )
    assert (KillSwitch, TrustPolicy, RiskTier) == (
        warrantd.KillSwitch,
        warrantd.TrustPolicy,
        warrantd.RiskTier,
    )
    assert (ApprovalGate, AuditSink, MetricsProvider) == (
        warrantd.ApprovalGate,
        warrantd.AuditSink,
        warrantd.MetricsProvider,
    )
    assert (SignalReading, TrustSignal, ApprovalRecord, ApprovalHistorySource) == (
        warrantd.SignalReading,
        warrantd.TrustSignal,
        warrantd.ApprovalRecord,
        warrantd.ApprovalHistorySource,
    )
    assert (ApprovalHistorySignal, EvalSuiteSignal, InMemoryApprovalHistory) == (
        warrantd.ApprovalHistorySignal,
        warrantd.EvalSuiteSignal,
        warrantd.InMemoryApprovalHistory,
    )
    assert approval_metrics is warrantd.approval_metrics


def test_enum_members_and_order() -> None:
    from warrantd import AutonomyState, RiskTier, Verdict

    assert [s.name for s in RiskTier] == ["READ", "REVERSIBLE_WRITE", "CONSEQUENTIAL"]
    assert [(s.name, int(s)) for s in AutonomyState] == [
        ("MANUAL", 0),
        ("SUPERVISED", 1),
        ("AUTONOMOUS", 2),
    ]
    assert AutonomyState.MANUAL < AutonomyState.SUPERVISED < AutonomyState.AUTONOMOUS
    assert [v.name for v in Verdict] == ["ALLOW", "REQUIRE_APPROVAL", "BLOCK"]
    # The published values: each member's value is its name.
    assert [v.value for v in Verdict] == ["ALLOW", "REQUIRE_APPROVAL", "BLOCK"]
    assert [t.value for t in RiskTier] == ["READ", "REVERSIBLE_WRITE", "CONSEQUENTIAL"]
    assert Verdict("REQUIRE_APPROVAL") is Verdict.REQUIRE_APPROVAL
    assert RiskTier("CONSEQUENTIAL") is RiskTier.CONSEQUENTIAL


def test_dataclasses_take_published_positional_order() -> None:
    from decimal import Decimal

    from warrantd import ActionClass, ActionRequest, AutonomyState, EvalMetrics, RiskTier

    ac = ActionClass("x", RiskTier.READ, Decimal(1), Decimal(2), AutonomyState.SUPERVISED)
    assert (ac.auto_cap, ac.hard_cap, ac.max_state) == (
        Decimal(1),
        Decimal(2),
        AutonomyState.SUPERVISED,
    )
    assert ActionClass("y", RiskTier.READ).max_state is AutonomyState.AUTONOMOUS
    req = ActionRequest("a", "t")
    assert (req.value, req.params) == (None, {})
    assert ActionRequest("a", "t").params is not req.params, "params default is a fresh dict"
    m = EvalMetrics(0.9, 0.8, 10)
    assert (m.pass_rate, m.adversarial_pass_rate, m.sample_size) == (0.9, 0.8, 10)


def test_values_are_frozen() -> None:
    import dataclasses

    import pytest

    from warrantd import EvalMetrics

    with pytest.raises(dataclasses.FrozenInstanceError):
        EvalMetrics(0.1, 0.1, 1).pass_rate = 0.5  # type: ignore[misc]


def test_quickstart_prints_the_trio() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["ALLOW", "REQUIRE_APPROVAL", "BLOCK"]
    assert "auto_cap" in lines[1] and "hard_cap" in lines[2]


def test_protocols_are_runtime_checkable() -> None:
    from warrantd import EvalMetrics, MetricsProvider

    class Provider:
        def metrics_for(self, action: str) -> EvalMetrics:
            return EvalMetrics(0, 0, 0)

    assert isinstance(Provider(), MetricsProvider)
    assert not isinstance(object(), MetricsProvider)


def test_a_core_only_install_gets_a_one_line_message_from_the_command() -> None:
    # Without the analytics extra there is no click: the command says what to install.
    code = "import sys\nsys.modules['click'] = None\nfrom _warrantd_cli import main\nmain()\n"
    out = subprocess.run(
        [sys.executable, "-c", code, "validate", "x.toml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "warrantd: error: the warrantd command needs the cli extra (click is missing): "
        "pip install 'warrantd[cli]'"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--version"], "warrantd, version"),
        (["validate", "datasets/billing-agent.policy.toml"], "valid policy"),
    ],
)
def test_the_cli_extra_alone_runs_the_gate_host_commands(args: list[str], expected: str) -> None:
    # click but no pandas / numpy / matplotlib: what `pip install 'warrantd[cli]'` gives.
    blocked = "".join(f"sys.modules[{m!r}] = None\n" for m in ("pandas", "numpy", "matplotlib"))
    code = f"import sys\n{blocked}from _warrantd_cli import main\nmain()\n"
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert expected in out.stdout


def test_an_analytics_command_without_its_extra_names_it() -> None:
    code = "import sys\nsys.modules['pandas'] = None\nfrom _warrantd_cli import main\nmain()\n"
    args = ["replay", "-p", "datasets/billing-agent.policy.toml"]
    args += ["-H", "datasets/billing-agent.csv"]
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "warrantd: error: warrantd.analytics needs the analytics extra (pandas is missing): "
        "pip install 'warrantd[analytics]'"
    )


def test_importing_the_kit_without_its_extra_names_the_extra() -> None:
    code = "import sys\nsys.modules['numpy'] = None\nimport warrantd.analytics\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "warrantd.errors.MissingExtraError: warrantd.analytics needs the analytics extra "
        "(numpy is missing): "
        "pip install 'warrantd[analytics]'"
    )
