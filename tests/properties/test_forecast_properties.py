"""Properties of the forecast's clock: the band compared in simulated days since
``as_of``, and the simulated eval days before and after the forecast is made.

Checked to fail on broken variants (see each test's docstring).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from warrantd.analytics.forecast import NS_PER_DAY, _Arrivals, _open_days, within_band

# The analytics kit's properties: coverage paused, as for tests/analytics (tests/conftest.py).
pytestmark = pytest.mark.no_cover

T0 = pd.Timestamp("2026-01-01", tz="UTC")
DAY = pd.Timedelta("1D")


@given(
    as_of_minutes=st.integers(0, 60 * 24 * 400),
    shift_minutes=st.integers(-60 * 24 * 30, 60 * 24 * 30),
    k10=st.integers(1, 60),
    width=st.integers(0, 30),
    beyond=st.booleans(),
    after_minutes=st.one_of(st.none(), st.integers(1, 60 * 24 * 100)),
)
def test_the_band_in_days_since_as_of_does_not_depend_on_the_clock(
    as_of_minutes: int,
    shift_minutes: int,
    k10: int,
    width: int,
    beyond: bool,
    after_minutes: int | None,
) -> None:
    """Moving as_of, the band and the graduation by the same amount (across midnights)
    never changes the verdict: the forecast's unit is time since as_of, not the UTC
    date. And a graduation ``t`` after as_of is inside exactly when the band's first
    day is not after the simulated day that holds it, and ``t`` is no later than the
    band's last day's end (``k90`` days after as_of).

    Checked to fail with ``as_of`` ignored (the UTC-date comparison): Hypothesis finds
    at once a graduation on simulated day 1 but on as_of's own date, called early."""
    as_of = T0 + pd.Timedelta(minutes=as_of_minutes)
    p10 = as_of + k10 * DAY
    p90 = pd.NaT if beyond else as_of + (k10 + width) * DAY
    actual = pd.NaT if after_minutes is None else as_of + pd.Timedelta(minutes=after_minutes)
    verdict = within_band(actual, p10, p90, as_of=as_of)
    shift = pd.Timedelta(minutes=shift_minutes)
    moved = within_band(
        actual + shift if pd.notna(actual) else actual,
        p10 + shift,
        p90 + shift if pd.notna(p90) else p90,
        as_of=as_of + shift,
    )
    assert verdict == moved
    if after_minutes is not None:
        ends_after_first_day_starts = after_minutes > (k10 - 1) * 24 * 60
        before_last_day_ends = beyond or after_minutes <= (k10 + width) * 24 * 60
        assert verdict == (ends_after_first_day_starts and before_last_day_ends)


@given(
    quiet=st.integers(0, 300),
    quiet_then_eval=st.integers(0, 300),
    busy=st.integers(0, 300),
    busy_then_eval=st.integers(0, 300),
    days=st.integers(1, 40),
    later_hours=st.integers(0, 24 * 45),
    seed=st.integers(0, 2**32 - 1),
)
def test_simulated_eval_days_are_whole_and_never_before_the_forecast(
    quiet: int,
    quiet_then_eval: int,
    busy: int,
    busy_then_eval: int,
    days: int,
    later_hours: int,
    seed: int,
) -> None:
    """Whatever the chain's counts and however long after as_of the forecast is made,
    each simulated day is an eval day or not (0 / 1), and no day that ended before the
    forecast was made is one.

    Checked to fail with the known quiet days ignored in ``_Arrivals.started`` (``known
    = 0``): a day before the forecast then holds an eval day."""
    chain = (quiet, min(quiet_then_eval, quiet), busy, min(busy_then_eval, busy))
    arrivals = _Arrivals(1, 10, np.array([[1], [0]]), 0, chain=chain)
    open_days = _open_days(0, later_hours * NS_PER_DAY // 24, days)
    out = arrivals.started(np.random.default_rng(seed), 20, days, open_days)
    assert out.shape == (20, days)
    assert set(np.unique(out)) <= {0, 1}
    assert not out[:, open_days == 0].any()
