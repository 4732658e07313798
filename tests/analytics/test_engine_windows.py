"""Time windows in the engine: the merge kernel (``time_window_moments``) by hand, against
the window definition recomputed from scratch, and replay and sweep under time windows
against the per-moment GraduationEngine loop under every evidence rule.

How these tests were shown to fail on broken kernels (each change made by hand in
``warrantd/analytics/_engine.py``, the tests run, the change undone):

* the window's start read at the moment's first merged element instead of its last
  (``start = (first + 1) - end_graded``: a case exactly at ``m - w`` stays
  in the window at ``m``, the ``side='left'``-for-``'right'`` off-by-one of a search):
  the hand-worked test, the property, the replay differential here and those of
  test_replay.py and test_replay_evidence.py fail (the sweep-against-replay test here
  passes, as it must: both read the same kernel);
* ``window_sums``' start search with ``side="left"`` (the same off-by-one in the
  window definition the other paths read): the property fails;
* the class boundaries left out of the moment starts (a class's first moment merged
  into the previous class's last one at the same time): the hand-worked test and the
  property fail (the property by its explicit example: random draws find that layout
  only now and then);
* the in-force counts of a reset history derived as graded less arrivals
  (``before = None`` with resets: the window in force then starts in the old segment):
  the reset test, the property, the replay differential here and
  test_replay_evidence.py's fail.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from warrantd import AutonomyState
from warrantd.analytics import load_history
from warrantd.analytics._engine import evidence_of, time_window_moments, window_sums

from ..helpers import reference_window_counts
from .test_replay_evidence import (
    assert_replay_equals_engine_loop,
    assert_small_sweep_equals_replay,
    segment,
    with_settings,
)

S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
T0 = pd.Timestamp("2026-03-01", tz="UTC")
HOUR = pd.Timedelta("1h")
DAY_NS = pd.Timedelta("1D").value


def hand_history(versions: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Class ``a``: two rows at 0h (3 of 3 normal, 1 of 2 adversarial), 0 of 1 at 12h,
    4 of 4 at 24h, 1 of 1 at 60h; class ``b``: 1 of 1 at 24h (the same time as a's);
    class ``c``: 2 of 2 adversarial at 48h, the time b's case leaves a 1-day window (so
    in the merge c's first element follows b's last at the same time)."""
    rows = [
        (0, "a", False, 3, 3),
        (0, "a", True, 2, 1),
        (12, "a", False, 1, 0),
        (24, "a", False, 4, 4),
        (60, "a", False, 1, 1),
        (24, "b", False, 1, 1),
        (48, "c", True, 2, 2),
    ]
    frame = pd.DataFrame(rows, columns=["hours", "action", "adversarial", "n", "n_passed"])
    frame["timestamp"] = T0 + frame.pop("hours") * HOUR
    if versions is not None:  # a's four timestamps, then b's
        by_time = dict(zip([0, 12, 24, 60], versions, strict=True))
        hours = (frame["timestamp"] - T0) // HOUR
        frame["agent_version"] = [
            by_time[h] if a == "a" else "v1" for h, a in zip(hours, frame["action"], strict=True)
        ]
    return load_history(frame)


def at_hours(found, lo: int, hi: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(h) for h in (found.moments[lo:hi] - T0.value) // HOUR.value]


def test_one_day_window_by_hand() -> None:
    evidence = evidence_of(hand_history())
    end = (T0 + 60 * HOUR).value
    found = time_window_moments(evidence, DAY_NS, end)
    # a: cases at 0, 12, 24, 60h; expiries at 24h (as a case arrives), 36h and 48h
    # (between cases); 84h is past the end and is no moment.
    assert found.bounds.tolist() == [0, 6, 8, 9]
    assert at_hours(found, 0, 6) == [0, 12, 24, 36, 48, 60]
    # b: its case at 24h and its expiry at 48h (a's moments at those times are a's).
    assert at_hours(found, 6, 8) == [24, 48]
    # c: its case at 48h, a moment of its own though b's expiry is at 48h too; its
    # expiry at 72h is past the end.
    assert at_hours(found, 8, 9) == [48]
    graded = found.graded.T.tolist()
    assert graded == [
        [3, 3, 2, 1],  # 0h: both rows of 0h, summed
        [4, 3, 2, 1],  # 12h
        [5, 4, 0, 0],  # 24h: (0h, 24h]: the cases of 0h left exactly now
        [4, 4, 0, 0],  # 36h: (12h, 36h], no case arrived
        [0, 0, 0, 0],  # 48h: (24h, 48h] is empty
        [1, 1, 0, 0],  # 60h
        [1, 1, 0, 0],  # b at 24h
        [0, 0, 0, 0],  # b at 48h: its case left
        [0, 0, 2, 2],  # c at 48h
    ]
    # Without resets the window in force is the graded one less what arrived then.
    assert found.before is None
    arrived = np.zeros_like(found.graded)
    arrived[:, found.row_moment] = evidence.counts
    before = (found.graded - arrived).T.tolist()
    assert before == [
        [0, 0, 0, 0],  # 0h: nothing before the first case
        [3, 3, 2, 1],  # 12h: (-12h, 12h)
        [1, 0, 0, 0],  # 24h: (0h, 24h): 0h is out, 24h not yet in
        [4, 4, 0, 0],  # 36h
        [0, 0, 0, 0],  # 48h
        [0, 0, 0, 0],  # 60h: (36h, 60h)
        [0, 0, 0, 0],  # b at 24h
        [0, 0, 0, 0],  # b at 48h: (24h, 48h) holds no case
        [0, 0, 0, 0],  # c at 48h
    ]
    assert found.row_moment.tolist() == [0, 1, 2, 5, 6, 8]
    assert found.last_row.tolist() == [0, 1, 2, 2, 2, 3, 4, 4, 5]


def test_a_later_end_adds_the_expiries_up_to_it() -> None:
    evidence = evidence_of(hand_history())
    found = time_window_moments(evidence, DAY_NS, (T0 + 84 * HOUR).value)
    assert at_hours(found, 0, int(found.bounds[1])) == [0, 12, 24, 36, 48, 60, 84]
    assert found.graded[:, 6].tolist() == [0, 0, 0, 0]


def test_reset_on_by_hand() -> None:
    # a's versions: v1 at 0h, v2 at 12h, v1 again at 24h and 60h (a change back restarts
    # the evidence too).
    evidence = evidence_of(hand_history(("v1", "v2", "v1", "v1")), reset_on="agent_version")
    found = time_window_moments(evidence, DAY_NS, (T0 + 60 * HOUR).value)
    assert found.graded[:, :6].T.tolist() == [
        [3, 3, 2, 1],  # 0h
        [1, 0, 0, 0],  # 12h: v2 starts anew
        [4, 4, 0, 0],  # 24h: v1 again starts anew
        [4, 4, 0, 0],  # 36h
        [0, 0, 0, 0],  # 48h
        [1, 1, 0, 0],  # 60h: (36h, 60h] within the segment begun at 24h
    ]
    assert found.before is not None
    assert found.before[:, :6].T.tolist() == [
        [0, 0, 0, 0],
        [3, 3, 2, 1],  # 12h in force: the v1 cases of 0h (v2 has not arrived)
        [1, 0, 0, 0],  # 24h in force: the v2 case of 12h, not graded less arrivals (0)
        [4, 4, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
    ]


def test_a_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        time_window_moments(evidence_of(hand_history()), 0, T0.value)


# --------------------------------------------------------------------------- property

SPANS = ["90min", "3h", "6h", "1D", "25h", "2D"]


@st.composite
def timed_histories(draw: st.DrawFn) -> tuple[pd.DataFrame, str, bool, int]:
    size = draw(st.integers(1, 25))
    # A 3-hour grid (expiries land on cases and between them), now and then off it.
    slots = draw(st.lists(st.integers(0, 12), min_size=size, max_size=size))
    jitter = draw(st.lists(st.sampled_from([0, 0, 0, 1, 3599]), min_size=size, max_size=size))
    when = T0 + pd.to_timedelta(np.array(slots) * 3, unit="h") + pd.to_timedelta(jitter, unit="s")
    frame = pd.DataFrame(
        {
            "timestamp": when,
            "action": draw(st.lists(st.sampled_from("abc"), min_size=size, max_size=size)),
            "n": draw(st.lists(st.integers(0, 4), min_size=size, max_size=size)),
            "adversarial": draw(st.lists(st.booleans(), min_size=size, max_size=size)),
        }
    )
    fractions = draw(st.lists(st.floats(0, 1), min_size=size, max_size=size))
    frame["n_passed"] = np.floor(frame["n"] * np.array(fractions)).astype(int)
    # One version per (action, timestamp), as reset_on needs.
    keys = frame[["action", "timestamp"]].drop_duplicates()
    versions = draw(st.lists(st.sampled_from(["v1", "v2"]), min_size=len(keys), max_size=len(keys)))
    frame = frame.merge(keys.assign(agent_version=versions), on=["action", "timestamp"])
    later = draw(st.sampled_from([0, 0, 5 * 3600, 2 * 86_400])) * 10**9
    return load_history(frame), draw(st.sampled_from(SPANS)), draw(st.booleans()), later


def boundary_case() -> tuple[pd.DataFrame, str, bool, int]:
    """Class a's last case leaves a 3-hour window at 3h, as class b's first case arrives:
    the two sit side by side in the merge at one time (rare in random draws)."""
    frame = pd.DataFrame(
        {
            "timestamp": [T0, T0 + 3 * HOUR, T0 + 6 * HOUR],
            "action": ["a", "b", "b"],
            "n": [2, 1, 3],
            "adversarial": [False, False, True],
            "n_passed": [1, 1, 2],
            "agent_version": ["v1", "v1", "v2"],
        }
    )
    return load_history(frame), "3h", False, 0


@given(timed_histories())
@example(boundary_case())
def test_the_kernel_is_the_window_definition(case) -> None:  # type: ignore[no-untyped-def]
    """Every class's moments are its case times and each ``t + w`` up to the end; the
    counts graded at and in force at each are the window's, recomputed from scratch
    (``(m - w, m]`` and ``(m - w, m)``, from the latest reset); and they equal
    ``window_sums``, the window definition every other path reads."""
    history, span, reset, later = case
    evidence = evidence_of(history, reset_on="agent_version" if reset else None)
    end = int(evidence.time_ns.max()) + later
    w = pd.Timedelta(span)
    found = time_window_moments(evidence, w.value, end)
    arrived = np.zeros_like(found.graded)
    arrived[:, found.row_moment] = evidence.counts
    before = found.graded - arrived if found.before is None else found.before
    for i, action in enumerate(evidence.actions):
        mine = history[history["action"] == action]
        rows = list(
            mine[["timestamp", "adversarial", "n", "n_passed", "agent_version"]].itertuples(
                index=False
            )
        )
        times = set(mine["timestamp"])
        expected = sorted(times | {t + w for t in times if (t + w).value <= end})
        lo, hi = int(found.bounds[i]), int(found.bounds[i + 1])
        assert pd.to_datetime(found.moments[lo:hi], utc=True).tolist() == expected
        for k, m in enumerate(expected):
            for strictly_before, got in ((True, before), (False, found.graded)):
                kept = segment(rows, m, strictly_before) if reset else rows
                want = reference_window_counts([r[:4] for r in kept], m, span, strictly_before)
                assert tuple(got[:, lo + k].tolist()) == want, (action, m, strictly_before)
    for inclusive, got in ((True, found.graded), (False, before)):
        defined = window_sums(evidence, span, found.moments, found.bounds, inclusive=inclusive)
        np.testing.assert_array_equal(got, defined)


# --------------------------------------------------------------------------- differential

# Every 18 seeds of with_settings cover each demotion margin kind (0, 0.1, drawn) with and
# without reset_on; the rule changes every 18 seeds, so 54 cover every combination of
# rule, margin and reset three times (each with its own history and time window).
N_TIME_CASES = 540 if os.environ.get("WARRANTD_THOROUGH") else 54
TIME_WINDOWS = ["90min", "6h", "1D", "30h", "2D"]
RULES = ("point", "wilson", "anytime")


def time_case(seed: int):  # type: ignore[no-untyped-def]
    """A differential case of test_replay_evidence (margins, resets, bars) under a time
    window, with the evidence rule chosen apart from the window (there, the seed picks
    both together, so time windows meet one rule only)."""
    history, policy, _ = with_settings(seed)
    rng = np.random.default_rng(30_000 + seed)
    window = str(rng.choice(TIME_WINDOWS))
    graduation = dataclasses.replace(policy.graduation, evidence=RULES[(seed // 18) % 3])
    return history, dataclasses.replace(policy, graduation=graduation), window


@pytest.mark.parametrize("seed", range(N_TIME_CASES))
def test_replay_under_time_windows_equals_the_engine_loop(seed: int) -> None:
    history, policy, window = time_case(seed)
    assert_replay_equals_engine_loop(history, policy, window)


def test_the_time_cases_cover_every_rule_margin_and_reset() -> None:
    seen = set()
    for seed in range(0, N_TIME_CASES, 3):  # one seed of each (rule, margin, reset)
        _, policy, _ = time_case(seed)
        g = policy.graduation
        seen.add((g.evidence, g.demotion_margin, g.reset_on is not None))

    def kind(margin: float) -> str:
        return "none" if margin == 0 else "0.1" if margin == 0.1 else "drawn"

    kinds = {(rule, kind(margin), reset) for rule, margin, reset in seen}
    assert len(kinds) == 18, sorted(kinds)


@pytest.mark.parametrize("seed", range(12))
def test_sweep_under_time_windows_equals_replay(seed: int) -> None:
    history, policy, window = time_case(seed)
    assert_small_sweep_equals_replay(history, policy, [window, "12h"])
