"""Property 12 (loader round trip) and the metrics-level forms of 14 and 15.

Properties 13, 14, 15 and 16 on replay and sweeps live in test_replay_properties.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from warrantd.analytics import load_history, metrics_timeline, save_history

# The analytics kit's properties: coverage paused, as for tests/analytics (tests/conftest.py).
pytestmark = pytest.mark.no_cover

EPOCH = pd.Timestamp("2026-01-01", tz="UTC")
SUFFIXES = ["csv", "csv.gz", "parquet", "jsonl", "json", "ndjson.gz"]

raw_histories = data_frames(
    columns=[
        # Microseconds: whole hours often (ties at one timestamp), and arbitrary
        # instants, so a writer that loses sub-second precision is caught.
        column(
            "micros",
            elements=st.one_of(
                st.integers(0, 40).map(lambda h: h * 3_600 * 10**6),
                st.integers(0, 10 * 86_400 * 10**6),
            ),
        ),
        column("action", elements=st.sampled_from(["refund", "lookup", "a b", "ünï", "1"])),
        column("passed", dtype=bool),
        column("adversarial", dtype=bool),
        column("tenant_id", elements=st.sampled_from(["acme", "007", "x"])),
        column("score", elements=st.floats(-1e6, 1e6, allow_nan=False)),
    ],
    index=range_indexes(min_size=1, max_size=40),
)


def to_history(raw: pd.DataFrame) -> pd.DataFrame:
    frame = raw.assign(timestamp=EPOCH + pd.to_timedelta(raw.pop("micros"), unit="us"))
    return load_history(frame)


@given(raw_histories, st.sampled_from(SUFFIXES))
def test_12_round_trip_through_every_format(raw: pd.DataFrame, suffix: str) -> None:
    """Writing a canonical history in any format and loading it back gives the same frame."""
    canonical = to_history(raw)
    with tempfile.TemporaryDirectory() as tmp:
        back = load_history(save_history(canonical, Path(tmp) / f"h.{suffix}"))
    pd.testing.assert_frame_equal(back, canonical, check_dtype=False)


windows = st.sampled_from([None, 1, 3, 10, "1D", "3D"])
TIMELINE_COLUMNS = [
    "action",
    "timestamp",
    "n_normal",
    "passed_normal",
    "n_adversarial",
    "passed_adversarial",
    "pass_rate",
    "adversarial_pass_rate",
    "sample_size",
]


@given(raw_histories, windows, st.randoms(use_true_random=False))
def test_15_row_order_within_a_timestamp_never_changes_metrics(raw, window, rnd) -> None:  # type: ignore[no-untyped-def]
    """Shuffling the input rows (so ties at one timestamp come in any order) never changes
    the metrics timeline."""
    history = to_history(raw)
    order = list(range(len(history)))
    rnd.shuffle(order)
    shuffled = load_history(history.iloc[order].reset_index(drop=True))
    a = metrics_timeline(history, window=window)[TIMELINE_COLUMNS]
    b = metrics_timeline(shuffled, window=window)[TIMELINE_COLUMNS]
    pd.testing.assert_frame_equal(a, b)


@given(raw_histories, windows, st.floats(0, 1))
def test_14_metrics_are_causal(raw: pd.DataFrame, window, cut: float) -> None:  # type: ignore[no-untyped-def]
    """The metrics timeline of a prefix of the history (cut at a moment) is exactly the
    prefix of the full timeline: future cases never change past metrics."""
    history = to_history(raw)
    times = history["timestamp"]
    moment = times.min() + (times.max() - times.min()) * cut
    prefix = history[times <= moment]
    full = metrics_timeline(history, window=window)
    expected = full[full["timestamp"] <= moment].reset_index(drop=True)
    got = metrics_timeline(prefix, window=window).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[TIMELINE_COLUMNS], expected[TIMELINE_COLUMNS])
    assert np.array_equal(got["n_cases"], expected["n_cases"])
