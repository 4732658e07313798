"""warrantd.analytics: the analytics and graduation simulation kit.

Data flows one way: policy + eval history -> metrics -> replay / sweep ->
forecast -> charts -> report. This package imports the core; the core never
imports it. Install with ``pip install 'warrantd[analytics]'``.
"""

from .forecast import Forecast, backtest, forecast
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
    eval_metrics,
    metrics_at,
    metrics_frame_at,
    metrics_timeline,
    rates_from_counts,
    wilson_interval,
)
from .replay import Replay, compare, graded_states, replay
from .report import build_report
from .sweep import KNOBS, SweepResult, candidates_frame, load_grid, sweep, to_thresholds
from .synth import counts_per_run, generate

__all__ = [
    "CANONICAL_COLUMNS",
    "KNOBS",
    "Forecast",
    "HistoryError",
    "HistoryMetrics",
    "PolicyCoverage",
    "Replay",
    "SweepResult",
    "backtest",
    "build_report",
    "candidates_frame",
    "compare",
    "counts_per_run",
    "eval_metrics",
    "forecast",
    "generate",
    "graded_states",
    "load_grid",
    "load_history",
    "metrics_at",
    "metrics_frame_at",
    "metrics_timeline",
    "rates_from_counts",
    "replay",
    "save_history",
    "sweep",
    "to_thresholds",
    "validate_against",
    "wilson_interval",
]
