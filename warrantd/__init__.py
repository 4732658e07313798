"""warrantd: a warrant daemon for agent actions, with earned autonomy.

The core answers one question for an agent about to act: ALLOW,
REQUIRE_APPROVAL or BLOCK? It is stdlib-only; the analytics kit lives in
:mod:`warrantd.analytics` behind the ``analytics`` extra.
"""

from .audit import AuditEntry
from .autonomy import AutonomyState
from .core import TrustLayer
from .decision import ActionClass, ActionRequest, Decision, EvalMetrics, Verdict
from .graduation import RISK_CEILING, GraduationEngine, GraduationThresholds, ceiling
from .killswitch import KillSwitch
from .policy import TrustPolicy, policy_problems, threshold_problems
from .policyfile import PolicyError, dump_policy, load_policy
from .protocols import ApprovalGate, AuditSink, MetricsProvider
from .risk import RiskTier

__version__ = "0.1.0"

__all__ = [
    "RISK_CEILING",
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
    "PolicyError",
    "RiskTier",
    "TrustLayer",
    "TrustPolicy",
    "Verdict",
    "__version__",
    "ceiling",
    "dump_policy",
    "load_policy",
    "policy_problems",
    "threshold_problems",
]
