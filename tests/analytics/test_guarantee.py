"""The measured guarantee: simulated classes checked after every case (seeded Monte Carlo).

The tolerance is three binomial standard errors of the share over the runs drawn, so a
rule that keeps its promise fails this test about once in a thousand seeds, and one that
promotes a class below its bar in, say, 10% of runs (as Wilson does at the bar) fails it
always at these run counts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from warrantd.analytics.guarantee import first_promotions, guarantee_table, min_passes

RUNS = 400
ALPHA = 0.05
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)  # 0.033


def test_min_passes_by_hand() -> None:
    # the point rule at 0.95: 19 of 20, 95 of 100, 1 of 1; nothing at 0 cases is 0 passes
    # (a rate of 0.0 does not meet 0.95, so even 0 passes of 0 cases is "never": 1)
    table = min_passes("point", 0.95, ALPHA, 100)
    assert (table[0], table[1], table[20], table[100]) == (1, 1, 19, 95)
    # the anytime rule needs at least the point rule's passes, everywhere; 100 of 100 is
    # not yet enough for 0.95: with the prior Beta(49.19, 2.589), E[theta^100] is about
    # exp(-2.589 * ln(151.78 / 51.78)) = 0.062, and 0.95^100 = 0.0059: M = 10.4 < 20.
    anytime = min_passes("anytime", 0.95, ALPHA, 100)
    assert np.all(anytime >= table)
    assert anytime[100] == 101


def test_first_promotions_is_seeded_and_reads_the_table() -> None:
    table = np.array([1, 1, 2, 3])  # every case must pass
    first = first_promotions(1.0, table, runs=5, seed=3)
    assert first.tolist() == [1, 1, 1, 1, 1]
    assert first_promotions(1.0, table, min_samples=2, runs=2).tolist() == [2, 2]
    assert first_promotions(0.0, table, runs=3).tolist() == [0, 0, 0]
    a = first_promotions(0.9, min_passes("point", 0.95, ALPHA, 300), runs=50, seed=7)
    b = first_promotions(0.9, min_passes("point", 0.95, ALPHA, 300), runs=50, seed=7)
    assert a.tolist() == b.tolist()


@pytest.fixture(scope="module")
def table() -> dict[tuple[str, float], tuple[float, float]]:
    frame = guarantee_table(
        bar=0.95, offsets=(-0.02, -0.01, 0.0, 0.02), runs=RUNS, seed=11, horizon=10_000
    )
    return {
        (r.rule, round(r.true_rate, 4)): (r.promoted, r.median_cases) for r in frame.itertuples()
    }


def test_anytime_promotes_a_class_below_its_bar_at_most_alpha_of_the_time(table) -> None:  # type: ignore[no-untyped-def]
    for rate in (0.93, 0.94, 0.95):  # on the bar too: the martingale's own null
        assert table[("anytime", rate)][0] <= ALPHA + TOLERANCE, rate


def test_the_point_rule_and_wilson_do_not_keep_that_promise(table) -> None:  # type: ignore[no-untyped-def]
    # what the guarantee test above would catch: repeated looks promote a class just
    # below its bar far more often than alpha
    assert table[("point", 0.94)][0] > ALPHA + TOLERANCE
    assert table[("point", 0.93)][0] > ALPHA + TOLERANCE
    assert table[("wilson", 0.95)][0] > ALPHA + TOLERANCE


def test_a_class_above_its_bar_is_promoted_and_the_price_is_cases(table) -> None:  # type: ignore[no-untyped-def]
    point, wilson, anytime = (table[(r, 0.97)] for r in ("point", "wilson", "anytime"))
    assert point[0] == wilson[0] == anytime[0] == 1.0  # all promoted within 10,000 cases
    assert point[1] == 200  # at min_samples, the first look allowed
    assert point[1] <= wilson[1] < anytime[1] < 2000
