"""warrantd.analytics: the analytics and graduation simulation kit.

Data flows one way: policy + eval history -> metrics -> replay / sweep ->
forecast -> charts -> report; :func:`policy_impact` weighs two policies on one
history. This package imports the core; the core never imports it. Install with
``pip install 'warrantd[analytics]'``.

Importing it loads pandas and numpy; matplotlib and Jinja2 load only when the
charts or the report are first used (``warrantd.analytics.charts``,
``build_report``).
"""

from __future__ import annotations

import importlib
from typing import Any

try:  # the kit's two foundations, checked first so that a missing extra says so
    import numpy  # noqa: F401
    import pandas  # noqa: F401
except ModuleNotFoundError as exc:
    from ..errors import MissingExtraError

    raise MissingExtraError(
        f"warrantd.analytics needs the analytics extra ({exc.name} is missing)", "analytics"
    ) from None

from .approvals import (
    APPROVAL_COLUMNS,
    ApprovalsError,
    approval_coverage,
    approval_history,
    load_approvals,
)
from .auditlog import DECISION_COLUMNS, AuditFrames, load_audit
from .diff import PolicyImpact, policy_impact
from .forecast import Forecast, backtest, backtests, forecast, within_band
from .history import (
    CANONICAL_COLUMNS,
    HistoryError,
    PolicyCoverage,
    load_history,
    save_history,
    validate_against,
)
from .metrics import (
    HistoryMetrics,
    check_window,
    eval_metrics,
    metrics_at,
    metrics_frame_at,
    metrics_timeline,
    parse_window,
    rates_from_counts,
    wilson_interval,
    window_label,
)
from .quality import DataQuality, data_quality
from .replay import POLICY_WINDOW, Replay, compare, graded_states, replay
from .sweep import (
    KNOBS,
    PICK_FIGURES,
    RULE_KNOBS,
    Pick,
    SweepResult,
    candidates_frame,
    compare_rules,
    grid_notes,
    load_grid,
    sweep,
    to_thresholds,
)
from .synth import counts_per_run, generate
from .traffic import TrafficError, load_traffic
from .tune import Tuner, compare_changed_first, policy_diff, tune

__all__ = [
    "APPROVAL_COLUMNS",
    "CANONICAL_COLUMNS",
    "DECISION_COLUMNS",
    "KNOBS",
    "PICK_FIGURES",
    "POLICY_WINDOW",
    "RULE_KNOBS",
    "ApprovalsError",
    "AuditFrames",
    "DataQuality",
    "Forecast",
    "HistoryError",
    "HistoryMetrics",
    "Pick",
    "PolicyCoverage",
    "PolicyImpact",
    "Replay",
    "SweepResult",
    "TrafficError",
    "Tuner",
    "approval_coverage",
    "approval_history",
    "backtest",
    "backtests",
    "build_report",
    "candidates_frame",
    "charts",
    "check_window",
    "compare",
    "compare_changed_first",
    "compare_rules",
    "counts_per_run",
    "data_quality",
    "eval_metrics",
    "forecast",
    "generate",
    "graded_states",
    "grid_notes",
    "load_approvals",
    "load_audit",
    "load_grid",
    "load_history",
    "load_traffic",
    "metrics_at",
    "metrics_frame_at",
    "metrics_timeline",
    "parse_window",
    "policy_diff",
    "policy_impact",
    "rates_from_counts",
    "replay",
    "save_history",
    "sweep",
    "to_thresholds",
    "tune",
    "validate_against",
    "wilson_interval",
    "window_label",
    "within_band",
]


def __getattr__(name: str) -> Any:
    # Charts (matplotlib) and the report (Jinja2) cost most of a second to import:
    # they load on first use, not with the kit.
    # import_module, not "from . import": that form looks the name up on this module
    # first, which would call __getattr__ again.
    if name == "charts":
        return importlib.import_module(f"{__name__}.charts")
    if name == "build_report":
        return importlib.import_module(f"{__name__}.report").build_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public names, not this module's own imports (Any, importlib, annotations).
    return sorted(__all__)
