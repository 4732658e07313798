"""warrantd: a warrant daemon for agent actions, with earned autonomy.

The core answers one question for an agent about to act: ALLOW,
REQUIRE_APPROVAL or BLOCK? It is stdlib-only and a drop-in for the published
``warrantd`` 0.1.0 and ``warrantd-core`` 0.3.0 APIs; the analytics kit lives
in :mod:`warrantd.analytics` behind the ``analytics`` extra.
"""

from .audit import AuditEntry
from .autonomy import AutonomyState
from .core import TrustLayer
from .decision import ActionClass, ActionRequest, Decision, EvalMetrics, Verdict
from .graduation import (
    GraduationEngine,
    GraduationSettings,
    GraduationThresholds,
    SignalReading,
    ceiling,
)
from .keys import normalized_idempotency_key
from .killswitch import KillSwitch
from .policy import TrustPolicy, policy_problems, threshold_problems
from .policyfile import PolicyError, dump_policy, load_policy
from .protocols import ApprovalGate, AuditSink, MetricsProvider, TrustSignal
from .risk import RiskTier
from .signals import (
    ApprovalHistorySignal,
    ApprovalHistorySource,
    ApprovalRecord,
    EvalSuiteSignal,
    InMemoryApprovalHistory,
    approval_metrics,
)

# Our own version, distinct from the published 0.1.0 and core 0.3.0 whose API this carries.
__version__ = "0.4.0.dev0"

__all__ = [
    "ActionClass",
    "ActionRequest",
    "ApprovalGate",
    "ApprovalHistorySignal",
    "ApprovalHistorySource",
    "ApprovalRecord",
    "AuditEntry",
    "AuditSink",
    "AutonomyState",
    "Decision",
    "EvalMetrics",
    "EvalSuiteSignal",
    "GraduationEngine",
    "GraduationSettings",
    "GraduationThresholds",
    "InMemoryApprovalHistory",
    "KillSwitch",
    "MetricsProvider",
    "PolicyError",
    "RiskTier",
    "SignalReading",
    "TrustLayer",
    "TrustPolicy",
    "TrustSignal",
    "Verdict",
    "__version__",
    "approval_metrics",
    "ceiling",
    "dump_policy",
    "load_policy",
    "normalized_idempotency_key",
    "policy_problems",
    "threshold_problems",
]
