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

``generate(mode="runs")`` makes a history shaped like a real benchmark's
(:func:`_generate_runs`): each class is a *fixed suite* of tasks (the same
tasks every run, each with its own difficulty), and whole runs of every suite
arrive at irregular dates: bursts of runs on a few days, then quiet weeks. Most
bursts try a new agent configuration (``agent_version``, e.g. another model
behind the same scaffold), which moves every class's pass probability in a jump
(a model effect shared by the classes plus one of its own per class); under the
jumps the scaffold improves slowly along its learning curve, in logits. Profiles
are :class:`SuiteProfile` (default :data:`CODING_AGENT`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "BILLING_AGENT",
    "BILLING_TRAFFIC",
    "CODING_AGENT",
    "ActionProfile",
    "SuiteProfile",
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


@dataclass(frozen=True)
class SuiteProfile:
    """One class of a run-based history: a fixed suite of tasks run whole each time.

    ``suite_size`` normal tasks and ``adversarial_size`` adversarial ones; the
    class's pass probability (before task difficulty and the agent's jumps) climbs
    from ``start_pass`` to ``final_pass`` in logits with time constant
    ``learning_days``; adversarial tasks sit ``adversarial_gap`` lower in logits.
    """

    name: str
    suite_size: int
    start_pass: float
    final_pass: float
    learning_days: float = 120.0
    adversarial_size: int = 0
    adversarial_gap: float = 0.5


#: Eight code repositories a coding agent is benchmarked on, from a 60-task suite
#: down to a single task per run; no adversarial tasks (as in public leaderboards).
CODING_AGENT: tuple[SuiteProfile, ...] = (
    SuiteProfile("repo_django", 60, 0.35, 0.75),
    SuiteProfile("repo_sympy", 40, 0.30, 0.70, 150),
    SuiteProfile("repo_pytest", 25, 0.45, 0.80),
    SuiteProfile("repo_astropy", 20, 0.25, 0.60, 200),
    SuiteProfile("repo_requests", 12, 0.50, 0.85, 90),
    SuiteProfile("repo_flask", 8, 0.55, 0.90, 90),
    SuiteProfile("repo_seaborn", 3, 0.50, 0.85),
    SuiteProfile("repo_xarray", 1, 0.60, 0.90),
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
    mode: str = "cases",
    suites: Sequence[SuiteProfile] = CODING_AGENT,
    bursts_every: float = 14.0,
    new_agent_share: float = 0.6,
) -> pd.DataFrame:
    """A synthetic eval history, one row per case, sorted by time.

    Columns: ``timestamp``, ``action``, ``passed``, ``adversarial``,
    ``tenant_id``, ``case_id``, ``agent_version``, ``run_id``, ``true_pass_p``,
    ``true_adv_pass_p``. ``scale`` multiplies every class's volume.

    ``mode="runs"``: the run-based history of the module docstring, from
    ``suites`` (``profiles``, ``releases_every`` and ``scale`` are not used): bursts
    start ``bursts_every`` days apart on average, and a burst tries a new agent
    configuration with probability ``new_agent_share``. It adds a ``task_id``
    column (the suite's task; ``case_id`` stays unique).
    """
    if mode == "runs":
        return _generate_runs(seed, suites, days, start, bursts_every, new_agent_share)
    if mode != "cases":
        raise ValueError(f"mode must be 'cases' or 'runs', not {mode!r}")
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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def _logit_of(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def _run_schedule(
    rng: np.random.Generator, days: int, bursts_every: float, new_agent_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Run start times (days since the origin, sorted) and each run's agent index.

    Bursts arrive with exponential gaps (quiet weeks between them); a burst covers
    one to three consecutive days, each with one to three runs at random hours. A
    burst tries a new agent with probability ``new_agent_share``, and then its
    first run uses it; with probability one half a later run of the burst goes
    back to the agent before (a comparison run).
    """
    starts: list[float] = []
    agents: list[int] = []
    agent = 0
    day = float(rng.exponential(bursts_every / 2))
    while day < days:
        first = int(day)
        new = agent + 1 if rng.random() < new_agent_share and starts else agent
        burst: list[float] = []
        for d in range(first, min(first + int(rng.integers(1, 4)), days)):
            hours = np.sort(rng.uniform(0, 22, int(rng.integers(1, 4))))
            burst.extend(d + hours / 24)
        uses = np.full(len(burst), new)
        if new != agent and len(burst) > 1 and rng.random() < 0.5:
            uses[int(rng.integers(1, len(burst)))] = agent  # a comparison run
        starts.extend(burst)
        agents.extend(uses.tolist())
        agent = new
        day = first + 1 + float(rng.exponential(bursts_every))
    return np.asarray(starts, dtype=np.float64), np.asarray(agents, dtype=np.int64)


def _generate_runs(
    seed: int,
    suites: Sequence[SuiteProfile],
    days: int,
    start: str,
    bursts_every: float,
    new_agent_share: float,
) -> pd.DataFrame:
    """The run-based history of :func:`generate` (``mode="runs"``)."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start, tz="UTC")
    run_day, run_agent = _run_schedule(rng, days, bursts_every, new_agent_share)
    n_agents = int(run_agent.max()) + 1 if len(run_agent) else 1
    shared = rng.normal(0.0, 0.5, n_agents)  # what a new model does to every class
    shared[0] = 0.0
    frames = []
    for suite in suites:  # classes, not rows
        own = rng.normal(0.0, 0.3, n_agents)  # and to this class in particular
        own[0] = 0.0
        size = suite.suite_size + suite.adversarial_size
        adversarial = np.arange(size) >= suite.suite_size
        difficulty = rng.normal(0.0, 0.8, size)
        lo, hi = _logit_of(suite.start_pass), _logit_of(suite.final_pass)
        base = lo + (hi - lo) * (1 - np.exp(-run_day / suite.learning_days))
        run_logit = base + shared[run_agent] + own[run_agent]  # (runs,)
        normal_logit = run_logit[:, None] + difficulty[None, :]
        adv_logit = normal_logit - suite.adversarial_gap
        runs = len(run_day)
        # true pass probability of each task at each run, for the row's kind and both
        true_p = _sigmoid(normal_logit)
        true_adv = _sigmoid(adv_logit)
        applies = np.where(adversarial[None, :], true_adv, true_p)
        passed = rng.random((runs, size)) < applies
        seconds = np.floor(run_day * 86_400).astype(np.int64)[:, None] + np.cumsum(
            rng.integers(5, 40, (runs, size)), axis=1
        )
        run_ids = np.char.add("run-", np.arange(runs).astype(str))
        tasks = np.char.add(f"{suite.name}-t", np.arange(size).astype(str))
        frames.append(
            pd.DataFrame(
                {
                    "timestamp": origin + pd.to_timedelta(seconds.ravel(), unit="s"),
                    "action": suite.name,
                    "passed": passed.ravel(),
                    "adversarial": np.tile(adversarial, runs),
                    "tenant_id": "benchmark",
                    "case_id": np.char.add(
                        np.repeat(np.char.add(run_ids, "/"), size), np.tile(tasks, runs)
                    ),
                    "task_id": np.tile(tasks, runs),
                    "agent_version": np.repeat(np.char.add("agent-", run_agent.astype(str)), size),
                    "run_id": np.repeat(run_ids, size),
                    "true_pass_p": np.round(true_p.ravel(), 6),
                    "true_adv_pass_p": np.round(true_adv.ravel(), 6),
                }
            )
        )
    cases = pd.concat(frames, ignore_index=True)
    order = np.lexsort((cases["case_id"].to_numpy(), cases["timestamp"].to_numpy()))
    return cases.take(order).reset_index(drop=True)


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
