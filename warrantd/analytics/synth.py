"""Seeded generator of realistic synthetic eval histories.

Each action class has a latent true pass probability, for normal and for
adversarial cases, that climbs along a learning curve
``final - (final - start) * exp(-day / learning_days)``; every agent release
(a change of ``agent_version``) knocks it down by a per-class regression that
fades over about a week. Accrual differs by class: daily runs with the odd
quiet week, weekday-only runs, or bursts. Cases of one eval run are seconds
apart, so some share a timestamp.

Ground truth is kept in ``true_pass_p`` and ``true_adv_pass_p`` (the
probability that applied to each case's kind, normal or adversarial, is in the
column of that kind; both are given on every row) so later analysis can tell
premature graduation from earned graduation.

The output is the one-row-per-case form accepted by
:func:`~warrantd.analytics.load_history`; :func:`counts_per_run` turns it into
the counts-per-run form. Same arguments and seed -> identical frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "BILLING_AGENT",
    "BILLING_TRAFFIC",
    "ActionProfile",
    "TrafficProfile",
    "counts_per_run",
    "generate",
    "generate_traffic",
    "random_profiles",
]


@dataclass(frozen=True)
class ActionProfile:
    """How one synthetic action class is evaluated and how it improves."""

    name: str
    cases_per_day: float
    adversarial_share: float
    start_pass: float
    final_pass: float
    start_adv: float
    final_adv: float
    learning_days: float
    schedule: str = "daily"  # daily | weekdays | bursty
    regression: float = 0.06  # drop in pass probability right after a release


#: The six classes of ``datasets/billing-agent.policy.toml``.
BILLING_AGENT: tuple[ActionProfile, ...] = (
    ActionProfile("read_ledger", 32, 0.15, 0.80, 0.985, 0.70, 0.96, 30, "daily", 0.03),
    ActionProfile("lookup_customer", 22, 0.15, 0.75, 0.975, 0.65, 0.94, 45, "weekdays", 0.04),
    ActionProfile("send_invoice_email", 16, 0.20, 0.70, 0.965, 0.60, 0.92, 60, "bursty", 0.06),
    ActionProfile("update_billing_address", 13, 0.20, 0.72, 0.93, 0.60, 0.86, 50, "weekdays", 0.05),
    ActionProfile("issue_refund", 22, 0.25, 0.65, 0.96, 0.55, 0.915, 70, "daily", 0.08),
    ActionProfile("cancel_subscription", 11, 0.30, 0.60, 0.90, 0.50, 0.80, 90, "bursty", 0.10),
)

_TENANTS = ("acme", "globex", "initech", "umbrella", "hooli")


@dataclass(frozen=True)
class TrafficProfile:
    """How many requests one action class gets in production, and of what value.

    ``requests_per_day`` on weekdays (weekends get ``weekend_share`` of it);
    ``value_median`` / ``value_sigma``: a log-normal value in currency units
    (None: requests carry no value); ``zero_share``: requests whose value is
    exactly 0 (e.g. cancelling a free plan).
    """

    name: str
    requests_per_day: float
    value_median: float | None = None
    value_sigma: float = 1.0
    zero_share: float = 0.0
    weekend_share: float = 0.4


#: Production traffic of the six billing-agent classes: reads dominate; refund
#: amounts are skewed, most under the 100 auto_cap and a few above the 1,000
#: hard_cap; a cancellation's value is the plan's yearly price (0 for free plans).
BILLING_TRAFFIC: tuple[TrafficProfile, ...] = (
    TrafficProfile("read_ledger", 70),
    TrafficProfile("lookup_customer", 55),
    TrafficProfile("send_invoice_email", 25),
    TrafficProfile("update_billing_address", 12),
    TrafficProfile("issue_refund", 30, value_median=55.0, value_sigma=1.1),
    TrafficProfile("cancel_subscription", 8, value_median=180.0, value_sigma=0.9, zero_share=0.25),
)


def generate_traffic(
    seed: int = 0,
    *,
    profiles: Sequence[TrafficProfile] = BILLING_TRAFFIC,
    days: int = 180,
    start: str = "2026-01-05",
) -> pd.DataFrame:
    """Synthetic production traffic, one row per request, sorted by time.

    Columns: ``timestamp``, ``action``, ``tenant_id``, ``value`` (text with two
    decimals, empty when the class's requests carry none), the form
    :func:`~warrantd.analytics.load_traffic` reads. Requests arrive as a Poisson
    stream per class and day, during working hours more than at night. Same
    arguments and seed -> identical frame.
    """
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start, tz="UTC")
    day_index = np.arange(days)
    weekday = ((origin.day_of_week + day_index) % 7) < 5
    frames = []
    for profile in profiles:
        rate = np.where(weekday, 1.0, profile.weekend_share) * profile.requests_per_day
        per_day = rng.poisson(rate)
        day_of = np.repeat(day_index, per_day)
        # Hours: mostly 08-18 UTC, some at any time.
        hour = np.where(
            rng.random(len(day_of)) < 0.8,
            rng.uniform(8, 18, len(day_of)),
            rng.uniform(0, 24, len(day_of)),
        )
        seconds = np.floor((day_of * 24 + hour) * 3600).astype(np.int64)
        frame = pd.DataFrame(
            {
                "timestamp": origin + pd.to_timedelta(seconds, unit="s"),
                "action": profile.name,
                "tenant_id": np.asarray(_TENANTS)[rng.integers(0, len(_TENANTS), len(day_of))],
            }
        )
        if profile.value_median is None:
            frame["value"] = ""
        else:
            amounts = rng.lognormal(np.log(profile.value_median), profile.value_sigma, len(day_of))
            amounts[rng.random(len(day_of)) < profile.zero_share] = 0.0
            frame["value"] = np.char.mod("%.2f", np.round(amounts, 2))
        frames.append(frame)
    traffic = pd.concat(frames, ignore_index=True)
    order = np.lexsort((traffic["action"].to_numpy(), traffic["timestamp"].to_numpy()))
    return traffic.take(order).reset_index(drop=True)


def random_profiles(n: int, seed: int = 0, cases_per_day: float = 20.0) -> list[ActionProfile]:
    """``n`` varied profiles named ``action_000``..., for large synthetic histories."""
    rng = np.random.default_rng(seed)
    schedules = np.array(["daily", "weekdays", "bursty"])
    profiles = []
    for i in range(n):
        start, final = rng.uniform(0.55, 0.8), rng.uniform(0.85, 0.995)
        start_adv, final_adv = start - rng.uniform(0.0, 0.1), final - rng.uniform(0.0, 0.08)
        profiles.append(
            ActionProfile(
                name=f"action_{i:03d}",
                cases_per_day=float(cases_per_day * rng.lognormal(0.0, 0.5)),
                adversarial_share=float(rng.uniform(0.1, 0.3)),
                start_pass=float(start),
                final_pass=float(final),
                start_adv=float(max(start_adv, 0.3)),
                final_adv=float(final_adv),
                learning_days=float(rng.uniform(20, 120)),
                schedule=str(rng.choice(schedules)),
                regression=float(rng.uniform(0.0, 0.1)),
            )
        )
    return profiles


def _activity(
    schedule: str, days: int, start: pd.Timestamp, rng: np.random.Generator
) -> np.ndarray:
    """Relative eval volume per day (mean about 1)."""
    if schedule == "weekdays":
        weekday = (start.day_of_week + np.arange(days)) % 7
        return np.where(weekday < 5, 1.4, 0.0)
    if schedule == "bursty":
        return np.where(rng.random(days) < 0.15, 4.0, 0.35)
    level = np.ones(days)
    for _ in range(max(days // 60, 1)):  # a quiet week now and then
        quiet = int(rng.integers(0, max(days - 7, 1)))
        level[quiet : quiet + 7] = 0.1
    return level


def _curve(start: float, final: float, tau: float, day: np.ndarray) -> np.ndarray:
    return final - (final - start) * np.exp(-day / tau)


def generate(
    seed: int = 0,
    *,
    profiles: Sequence[ActionProfile] = BILLING_AGENT,
    days: int = 180,
    start: str = "2026-01-05",
    releases_every: float = 35.0,
    scale: float = 1.0,
) -> pd.DataFrame:
    """A synthetic eval history, one row per case, sorted by time.

    Columns: ``timestamp``, ``action``, ``passed``, ``adversarial``,
    ``tenant_id``, ``case_id``, ``agent_version``, ``run_id``, ``true_pass_p``,
    ``true_adv_pass_p``. ``scale`` multiplies every class's volume.
    """
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start, tz="UTC")
    release_days = np.cumsum(rng.exponential(releases_every, size=int(days // 5) + 2))
    release_days = release_days[release_days < days]
    frames = [
        _generate_action(p, i, rng, origin, days, release_days, scale)
        for i, p in enumerate(profiles)
    ]
    cases = pd.concat(frames, ignore_index=True)
    order = np.lexsort((cases["case_id"].to_numpy(), cases["timestamp"].to_numpy()))
    cases = cases.take(order).reset_index(drop=True)
    return cases


def _generate_action(
    profile: ActionProfile,
    index: int,
    rng: np.random.Generator,
    origin: pd.Timestamp,
    days: int,
    release_days: np.ndarray,
    scale: float,
) -> pd.DataFrame:
    per_day = rng.poisson(
        profile.cases_per_day * scale * _activity(profile.schedule, days, origin, rng)
    )
    run_days = np.flatnonzero(per_day)
    run_sizes = per_day[run_days]
    run_start = run_days * 86_400 + rng.integers(0, 20 * 3600, size=len(run_days))
    case_run = np.repeat(np.arange(len(run_days)), run_sizes)
    total = int(run_sizes.sum())
    if total == 0:  # a short history can leave a rarely evaluated class without a run
        return pd.DataFrame(
            columns=[
                "timestamp",
                "action",
                "passed",
                "adversarial",
                "tenant_id",
                "case_id",
                "agent_version",
                "run_id",
                "true_pass_p",
                "true_adv_pass_p",
            ]
        )
    gaps = np.floor(rng.exponential(12.0, size=total)).astype(np.int64)
    run_first = np.r_[0, np.cumsum(run_sizes)[:-1]]
    cum = np.cumsum(gaps)
    within = cum - np.repeat(cum[run_first] - gaps[run_first], run_sizes)
    seconds = run_start[case_run] + within
    day = seconds / 86_400.0

    releases_before = np.searchsorted(release_days, day, side="right")
    since = day - np.r_[0.0, release_days][releases_before]  # days since the last release
    dip = np.where(releases_before > 0, profile.regression * np.exp(-since / 7.0), 0.0)
    true_p = np.clip(
        _curve(profile.start_pass, profile.final_pass, profile.learning_days, day) - dip,
        0.01,
        0.999,
    )
    true_adv = np.clip(
        _curve(profile.start_adv, profile.final_adv, profile.learning_days, day) - dip, 0.01, 0.999
    )
    adversarial = rng.random(total) < profile.adversarial_share
    passed = rng.random(total) < np.where(adversarial, true_adv, true_p)
    return pd.DataFrame(
        {
            "timestamp": origin + pd.to_timedelta(seconds, unit="s"),
            "action": profile.name,
            "passed": passed,
            "adversarial": adversarial,
            "tenant_id": np.asarray(_TENANTS)[rng.integers(0, len(_TENANTS), size=total)],
            "case_id": [f"{index:02d}-{k:06d}" for k in range(total)],
            "agent_version": np.char.add("v1.", releases_before.astype(str)),
            "run_id": np.char.add(f"{profile.name}-r", case_run.astype(str)),
            "true_pass_p": np.round(true_p, 6),
            "true_adv_pass_p": np.round(true_adv, 6),
        }
    )


def counts_per_run(cases: pd.DataFrame) -> pd.DataFrame:
    """The counts-per-run form: one row per action, run and adversarial flag.

    Each row is stamped with the run's first case time; columns ``timestamp``,
    ``action``, ``run_id``, ``adversarial``, ``n``, ``n_passed``,
    ``agent_version``.
    """
    grouped = cases.groupby(["action", "run_id", "adversarial"], sort=False, observed=True)
    runs = grouped.agg(
        timestamp=("timestamp", "min"),
        n=("passed", "size"),
        n_passed=("passed", "sum"),
        agent_version=("agent_version", "first"),
    ).reset_index()
    first = runs.groupby(["action", "run_id"], sort=False)["timestamp"].transform("min")
    runs["timestamp"] = first
    runs = runs.sort_values(["timestamp", "action", "adversarial"], kind="stable")
    columns = ["timestamp", "action", "run_id", "adversarial", "n", "n_passed", "agent_version"]
    return runs[columns].reset_index(drop=True)
