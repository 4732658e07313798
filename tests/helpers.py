"""Small builders shared by the tests."""

from __future__ import annotations

from warrantd import AutonomyState, GraduationThresholds

S = AutonomyState.SUPERVISED
A = AutonomyState.AUTONOMOUS


def make_thresholds(
    sup: tuple[float, float, int] = (0.80, 0.70, 50),
    aut: tuple[float, float, int] = (0.95, 0.90, 200),
) -> GraduationThresholds:
    """Thresholds from (pass_rate, adversarial_pass_rate, min_samples) per state."""
    return GraduationThresholds(
        pass_rate={S: sup[0], A: aut[0]},
        adversarial_pass_rate={S: sup[1], A: aut[1]},
        min_samples={S: sup[2], A: aut[2]},
    )


def reference_window_counts(rows, t, window, strictly_before):  # type: ignore[no-untyped-def]
    """Counts (n_normal, passed_normal, n_adversarial, passed_adversarial) of one action's
    window at ``t``, recomputed from scratch with plain Python.

    ``rows`` are (timestamp, adversarial, n, n_passed) tuples of one action. The window
    ends at ``t`` (inclusive) or just before it; see warrantd.analytics.metrics.
    """
    import pandas as pd

    eligible = [r for r in rows if (r[0] < t if strictly_before else r[0] <= t)]
    if window is None:
        chosen = eligible
    elif isinstance(window, int):
        times = sorted({r[0] for r in eligible}, reverse=True)
        keep, covered = set(), 0
        for moment in times:
            if covered >= window:
                break
            keep.add(moment)
            covered += sum(r[2] for r in eligible if r[0] == moment)
        chosen = [r for r in eligible if r[0] in keep]
    else:
        span = pd.Timedelta(window)
        chosen = [r for r in eligible if r[0] > t - span]
    normal = [r for r in chosen if not r[1]]
    adversarial = [r for r in chosen if r[1]]
    return (
        sum(r[2] for r in normal),
        sum(r[3] for r in normal),
        sum(r[2] for r in adversarial),
        sum(r[3] for r in adversarial),
    )


def all_passing_daily(days: int, action: str = "w"):  # type: ignore[no-untyped-def]
    """A loaded history of one class ``action``: one passing case a day for ``days``
    days from 2026-01-01 (UTC)."""
    import pandas as pd

    from warrantd.analytics import load_history

    return load_history(
        pd.DataFrame(
            {
                "timestamp": pd.date_range("2026-01-01", periods=days, freq="D", tz="UTC"),
                "action": action,
                "passed": True,
            }
        )
    )
