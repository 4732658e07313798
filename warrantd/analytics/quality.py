"""Data quality of an eval history, said up front: what the evidence can and cannot support.

:func:`data_quality` reads a loaded history (and optionally the policy) and
reports, per action class and in plain findings:

* how many distinct timestamps and UTC days the evidence sits on, and the share
  of a class's cases tied on its most crowded timestamp (a benchmark run
  stamped at one moment is one look, not a stream);
* gaps far longer than the usual spacing (an outlier date: one run years
  before the rest), which stretch time axes and break rates of arrival;
* classes with fewer cases than the policy's ``min_samples`` bars;
* several ``agent`` / ``agent_version`` / ``model`` values pooled at one
  timestamp (different agents' results counted as one class's evidence);
* timestamps in the future;
* rows that repeat an earlier row's eval case (:func:`repeated_cases`: a doubled
  export counts every case twice; :func:`~warrantd.analytics.history.load_history`
  refuses them unless told to keep them);
* classes of the policy with no evidence, and of the history not in the policy.

The figures are counts; nothing here decides a state. The forecast refuses
classes whose evidence days or eval runs are too few (:data:`MIN_EVIDENCE_DAYS`,
:data:`MIN_RUNS`, defined here, with what a run is: :data:`RUN_COLUMNS`), and the
report and ``warrantd validate --history`` print these findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ..autonomy import AutonomyState
from ..policy import TrustPolicy

__all__ = [
    "AGENT_COLUMNS",
    "ATTEMPT_COLUMNS",
    "CASE_ID_COLUMN",
    "CASE_KEY_EXTRA",
    "MIN_EVIDENCE_DAYS",
    "MIN_RUNS",
    "OUTLIER_GAP_FACTOR",
    "RUN_COLUMNS",
    "DataQuality",
    "RepeatedCases",
    "data_quality",
    "first_conflict",
    "repeated_cases",
]

#: Columns that name who produced a case: several values at one timestamp are pooled.
AGENT_COLUMNS = ("agent", "agent_version", "model")
#: A gap is an outlier when it is this many times the class's median gap (and over a week).
OUTLIER_GAP_FACTOR = 10.0
_MIN_OUTLIER_GAP_DAYS = 7.0
#: A class is forecast only when its evidence spans at least this many distinct UTC
#: days: fewer cannot support a rate of arrival (three leaderboard snapshots are not a
#: steady stream of cases).
MIN_EVIDENCE_DAYS = 5
#: An eval *run* is the cases of one class sharing a value of the first of these
#: columns the history has (``run_id``, or Inspect's and promptfoo's ``eval_id``);
#: where a row has none, the cases of the class at one timestamp.
RUN_COLUMNS = ("run_id", "eval_id")
#: A class is forecast only when its evidence comes from at least this many runs:
#: fewer cannot support a rate at which runs arrive, nor the spread of their sizes.
MIN_RUNS = 5
_DAY_NS = 86_400 * 10**9
#: The column that names an eval case. A row with the same action, case, timestamp and
#: (where the history has them) tenant, agent and run as an earlier row is the same
#: result read twice, as a doubled export or a re-run ETL gives: see :func:`repeated_cases`.
CASE_ID_COLUMN = "case_id"
#: Where a history has no ``case_id``: Inspect's and promptfoo's logs name a case by
#: ``sample_id`` (within its ``eval_id``, per ``epoch``).
_CASE_ID_FALLBACK = "sample_id"
#: Columns that number the attempts of one case run several times at one timestamp.
ATTEMPT_COLUMNS = ("epoch", "attempt", "repeat")
#: Columns that tell two results of one case at one moment apart when they differ.
CASE_KEY_EXTRA = ("tenant_id", *AGENT_COLUMNS, *RUN_COLUMNS, *ATTEMPT_COLUMNS)


@dataclass(frozen=True)
class RepeatedCases:
    """Rows repeating an earlier row's eval case (see :func:`repeated_cases`).

    ``mask``: per row, in the frame's order, whether it repeats an earlier row;
    ``key``: the columns compared; ``first`` and ``original``: 0-based positions of the
    first repeating row and of the earlier row it repeats.
    """

    mask: np.ndarray
    key: tuple[str, ...]
    first: int
    original: int

    @property
    def count(self) -> int:
        return int(self.mask.sum())

    def columns_said(self, shown: Mapping[str, str] | None = None) -> str:
        """The compared columns in words: ``action, case_id and timestamp``; with
        ``shown`` (canonical name -> the file's), as the file names them."""
        names = [(shown or {}).get(name, name) for name in self.key]
        return ", ".join(names[:-1]) + " and " + names[-1]


def _shared(*columns: np.ndarray) -> np.ndarray:
    """Per row, whether another row has the same values in every one of ``columns``
    (integer arrays of one length): one sort, neighbours compared."""
    order = np.lexsort(columns[::-1])
    same = np.ones(max(len(order) - 1, 0), dtype=bool)
    for column in columns:  # a few columns, each compared whole
        ranked = column[order]
        same &= ranked[1:] == ranked[:-1]
    ranked_shared = np.zeros(len(order), dtype=bool)
    ranked_shared[1:] |= same
    ranked_shared[:-1] |= same
    out = np.empty(len(order), dtype=bool)
    out[order] = ranked_shared
    return out


def repeated_cases(frame: pd.DataFrame) -> RepeatedCases | None:
    """The rows of ``frame`` that repeat an earlier row's eval case, or None when none do.

    Only a frame with a :data:`CASE_ID_COLUMN` (or, for imported logs, ``sample_id``)
    can say so: without one, identical rows are honest (two passes of one class in one
    run). Attempt columns (:data:`ATTEMPT_COLUMNS`, e.g. Inspect's ``epoch``) are part
    of the key: a case run several times at one timestamp is not a repeat. Rows
    compare on ``action``, the case id and ``timestamp``, and on ``tenant_id``,
    ``agent`` / ``agent_version`` / ``model`` and ``run_id`` / ``eval_id`` where
    present, so one case run again later (a new run) or by another agent is not a
    repeat. A row without a case id repeats nothing.
    """
    case = next((c for c in (CASE_ID_COLUMN, _CASE_ID_FALLBACK) if c in frame.columns), None)
    if case is None or len(frame) < 2:
        return None
    extra = [c for c in CASE_KEY_EXTRA if c in frame.columns]
    key = ("action", case, "timestamp", *extra)
    # A repeat shares its action and timestamp with another row: integers, compared by
    # one sort. Only those rows have their case ids hashed, and only the rows sharing
    # the case id too have every key column compared (text: a second per million rows),
    # so a history of distinct cases costs one sort.
    stamps = frame["timestamp"].dt.as_unit("ns").astype("int64").to_numpy()
    actions = pd.factorize(frame["action"])[0]
    has_id = frame[case].notna().to_numpy()
    candidates = np.flatnonzero(_shared(actions, stamps) & has_id)
    if len(candidates):
        ids = pd.factorize(frame[case].iloc[candidates])[0]
        candidates = candidates[_shared(actions[candidates], stamps[candidates], ids)]
    if not len(candidates):
        return None
    # duplicated keeps file order among the candidates, and a repeat's earlier row is
    # one of them: "first" means the same as over the whole frame.
    among = frame.iloc[candidates]
    repeats = among.duplicated(subset=list(key), keep="first").to_numpy()
    if not repeats.any():
        return None
    mask = np.zeros(len(frame), dtype=bool)
    mask[candidates[repeats]] = True
    first = int(np.argmax(mask))
    # The earlier row it repeats (found only when there is one to name).
    groups = among.groupby(list(key), sort=False, dropna=False, observed=True).ngroup()
    at = int(np.searchsorted(candidates, first))
    same = groups.to_numpy() == groups.iat[at]
    return RepeatedCases(mask, key, first, int(candidates[np.argmax(same)]))


#: The canonical columns that hold a case's outcome: repeats differing in one conflict.
_OUTCOMES = ("n", "n_passed", "adversarial")


def first_conflict(
    out: pd.DataFrame, keys: pd.DataFrame, key: tuple[str, ...]
) -> tuple[int, int] | None:
    """The first row (in file order) repeating an eval case with another outcome, and
    the earlier row it disagrees with, by their parsed values ("yes" and "true" are the
    same pass); None when every repeat agrees with its case's other rows."""
    outcomes = [c for c in _OUTCOMES if c in out.columns]
    shared = keys.duplicated(subset=list(key), keep=False).to_numpy()
    if not shared.any() or not outcomes:
        return None
    among = out.loc[shared, outcomes].assign(
        _case=keys[shared]
        .groupby(list(key), sort=False, dropna=False, observed=True)
        .ngroup()
        .to_numpy()
    )
    spread = among.groupby("_case")[outcomes].transform("nunique").gt(1).any(axis=1)
    if not spread.any():
        return None
    case = among.loc[spread, "_case"].iat[0]
    rows = np.flatnonzero(shared)[(among["_case"] == case).to_numpy()]
    values = out.loc[out.index[rows], outcomes].to_numpy()
    # The first row of the case that disagrees with the case's first row.
    later = next(i for i in range(1, len(rows)) if (values[i] != values[0]).any())
    return int(rows[0]), int(rows[later])


@dataclass(frozen=True)
class DataQuality:
    """What :func:`data_quality` found.

    ``classes``: one row per action class of the history (and of the policy, with
    zero cases), columns ``action``, ``cases``, ``adversarial_cases``,
    ``distinct_timestamps``, ``distinct_days``, ``largest_tie_share`` (share of the
    class's cases at its most crowded timestamp), ``median_gap_days`` and
    ``largest_gap_days`` (between consecutive distinct timestamps), ``outlier_gap``
    (the largest gap is more than :data:`OUTLIER_GAP_FACTOR` times the median and over
    a week), ``pooled_timestamps`` (timestamps holding cases of several agents),
    ``future_cases``, ``below_supervised_min_samples``, ``in_policy``, ``in_history``.
    ``findings``: one sentence per problem, most serious first; empty when none.
    ``tie_share``: the share of all cases at the single most crowded timestamp.
    """

    classes: pd.DataFrame
    findings: list[str]
    cases: int
    distinct_timestamps: int
    tie_share: float
    as_of: pd.Timestamp

    def describe_lines(self) -> list[str]:
        """The findings as printable lines (a heading, then one indented line each)."""
        if not self.findings:
            return ["data quality: no problems found"]
        return [f"data quality: {len(self.findings)} finding(s)"] + [
            f"  - {finding}" for finding in self.findings
        ]


#: Classes a finding names before the rest are counted ("... and 3 more").
NAMES_SHOWN = 5


def _listed(values: Any, limit: int | None = NAMES_SHOWN) -> str:
    values = list(values)
    if limit is None:
        limit = len(values)
    shown = ", ".join(repr(str(v)) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _spacing(days: float) -> str:
    """A spacing in the largest unit that reads as a number: days, hours, minutes or
    seconds (a spacing of seconds shown in days would print as "0.0 days")."""
    for unit, size in (("days", 1.0), ("hours", 1 / 24), ("minutes", 1 / 1440)):
        if days >= size:
            return f"{days / size:,.1f} {unit}"
    return f"{days * 86_400:,.1f} seconds"


def data_quality(
    history: pd.DataFrame,
    policy: TrustPolicy | None = None,
    *,
    now: Any = None,
    names_shown: int | None = NAMES_SHOWN,
) -> DataQuality:
    """Check a loaded history (see the module docstring). ``now`` defaults to the clock.

    A finding names at most ``names_shown`` classes and counts the rest ("... and 3
    more"), as a terminal line should; None names them all (the report has room)."""
    moment = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if moment.tzinfo is None:
        moment = moment.tz_localize("UTC")
    ts = history["timestamp"].dt.as_unit("ns").astype("int64").to_numpy()
    n = history["n"].to_numpy(dtype=np.int64)
    codes, names = pd.factorize(history["action"], sort=True)
    per_stamp = (
        pd.DataFrame({"code": codes, "ts": ts, "n": n})
        .groupby(["code", "ts"], sort=True)["n"]
        .sum()
        .reset_index()
    )
    cases = np.bincount(codes, weights=n, minlength=len(names)).astype(np.int64)
    adversarial = history["adversarial"].to_numpy(dtype=bool)
    adversarial_cases = np.bincount(
        codes, weights=np.where(adversarial, n, 0), minlength=len(names)
    ).astype(np.int64)
    stamps = per_stamp.groupby("code")
    distinct = stamps.size().reindex(range(len(names)), fill_value=0).to_numpy()
    crowded = stamps["n"].max().reindex(range(len(names)), fill_value=0).to_numpy()
    days = (
        pd.DataFrame({"code": codes, "day": ts // _DAY_NS})
        .groupby("code")["day"]
        .nunique()
        .reindex(range(len(names)), fill_value=0)
        .to_numpy()
    )
    gaps = per_stamp.assign(gap=per_stamp.groupby("code")["ts"].diff() / _DAY_NS).dropna()
    median_gap = gaps.groupby("code")["gap"].median().reindex(range(len(names))).to_numpy()
    largest_gap = gaps.groupby("code")["gap"].max().reindex(range(len(names))).to_numpy()
    with np.errstate(invalid="ignore"):
        outlier = (largest_gap > OUTLIER_GAP_FACTOR * median_gap) & (
            largest_gap > _MIN_OUTLIER_GAP_DAYS
        )
    future = np.bincount(
        codes, weights=np.where(ts > moment.value, n, 0), minlength=len(names)
    ).astype(np.int64)
    pooled = _pooled(history, codes, ts, len(names))
    classes = pd.DataFrame(
        {
            "action": [str(a) for a in names],
            "cases": cases,
            "adversarial_cases": adversarial_cases,
            "distinct_timestamps": distinct,
            "distinct_days": days,
            "largest_tie_share": np.where(cases > 0, crowded / np.maximum(cases, 1), 0.0),
            "median_gap_days": median_gap,
            "largest_gap_days": largest_gap,
            "outlier_gap": outlier,
            "pooled_timestamps": pooled,
            "future_cases": future,
        }
    )
    classes = _with_policy(classes, policy)
    total = int(n.sum())
    overall = pd.Series(n).groupby(ts).sum()
    tie_share = float(overall.max() / total) if total else 0.0
    findings = _findings(
        history,
        classes,
        policy,
        per_stamp,
        names,
        total,
        len(overall),
        tie_share,
        moment,
        names_shown,
    )
    return DataQuality(classes, findings, total, len(overall), tie_share, moment)


def _history_gap(stamps: np.ndarray) -> tuple[pd.Timestamp, pd.Timestamp, float, float] | None:
    """The whole history's outlier gap between distinct timestamps, if it has one."""
    distinct = np.unique(stamps)
    if len(distinct) < 3:
        return None
    gaps = np.diff(distinct) / _DAY_NS
    usual, where = float(np.median(gaps)), int(np.argmax(gaps))
    largest = float(gaps[where])
    if largest <= max(OUTLIER_GAP_FACTOR * usual, _MIN_OUTLIER_GAP_DAYS):
        return None
    before = pd.Timestamp(int(distinct[where]), tz="UTC")
    return before, pd.Timestamp(int(distinct[where + 1]), tz="UTC"), largest, usual


def _pooled(history: pd.DataFrame, codes: np.ndarray, ts: np.ndarray, size: int) -> np.ndarray:
    """Per class, the timestamps at which several agents' cases were pooled."""
    out = np.zeros(size, dtype=np.int64)
    for column in AGENT_COLUMNS:
        if column not in history.columns:
            continue
        frame = pd.DataFrame({"code": codes, "ts": ts, "who": history[column].astype(str)})
        several = frame.groupby(["code", "ts"])["who"].nunique() > 1
        counts = several.groupby(level="code").sum()
        out = np.maximum(out, counts.reindex(range(size), fill_value=0).to_numpy())
    return out


def _with_policy(classes: pd.DataFrame, policy: TrustPolicy | None) -> pd.DataFrame:
    classes = classes.assign(in_history=True)
    if policy is None:
        return classes.assign(in_policy=True, below_supervised_min_samples=False)
    missing = sorted(set(policy.actions) - set(classes["action"]))
    if missing:
        empty = pd.DataFrame({"action": missing, "in_history": False})
        classes = pd.concat([classes, empty], ignore_index=True)
        counted = ("cases", "adversarial_cases", "distinct_timestamps", "distinct_days")
        for column in (*counted, "pooled_timestamps"):
            classes[column] = classes[column].fillna(0).astype(np.int64)
        classes["future_cases"] = classes["future_cases"].fillna(0).astype(np.int64)
        classes["largest_tie_share"] = classes["largest_tie_share"].fillna(0.0)
        classes["outlier_gap"] = classes["outlier_gap"].fillna(False).astype(bool)
    bar = policy.thresholds.min_samples[AutonomyState.SUPERVISED]
    classes["in_policy"] = classes["action"].isin(list(policy.actions))
    classes["below_supervised_min_samples"] = classes["in_policy"] & (classes["cases"] < bar)
    return classes.sort_values("action", kind="stable").reset_index(drop=True)


def _findings(
    history: pd.DataFrame,
    classes: pd.DataFrame,
    policy: TrustPolicy | None,
    per_stamp: pd.DataFrame,
    names: Any,
    total: int,
    distinct_total: int,
    tie_share: float,
    moment: pd.Timestamp,
    limit: int | None,
) -> list[str]:
    found: list[str] = []
    present = classes[classes["in_history"]]
    repeated = repeated_cases(history)
    if repeated is not None:
        found.append(
            f"{repeated.count:,} row(s) repeat an earlier row's eval case (same "
            f"{repeated.columns_said()}): each counts again as evidence, as a doubled "
            "export would"
        )
        if first_conflict(history, history, repeated.key) is not None:
            found.append(
                "a repeated eval case has two outcomes at one moment (passed in one row, "
                "failed in another): a conflict, not a doubled export; it counts as both"
            )
    if policy is not None:
        lacking = classes.loc[~classes["in_history"], "action"]
        if len(lacking):
            found.append(
                f"{len(lacking)} class(es) of the policy have no evidence (MANUAL throughout): "
                + _listed(lacking, limit)
            )
        foreign = classes.loc[~classes["in_policy"], "action"]
        if len(foreign):
            found.append(
                f"{len(foreign)} class(es) of the history are not in the policy: "
                + _listed(foreign, limit)
            )
    busiest = pd.Series(history["n"].to_numpy()).groupby(history["timestamp"]).sum()
    # A quarter of the cases on one moment, and a real crowd of them (not 1 of 3).
    if tie_share >= 0.25 and distinct_total > 1 and busiest.max() >= 10:
        when = busiest.idxmax()
        found.append(
            f"{tie_share:.0%} of all {total:,} cases share one timestamp ({when:%Y-%m-%d %H:%M} "
            f"UTC); the history has {distinct_total:,} distinct timestamps in all"
        )
    history_gap = _history_gap(per_stamp["ts"].to_numpy())
    if history_gap is not None:
        before, after, largest, usual = history_gap
        found.append(
            f"the history has a {largest:,.0f}-day gap from {before:%Y-%m-%d} to "
            f"{after:%Y-%m-%d} (its usual spacing is {_spacing(usual)}): an outlier date"
        )
    few_days = present[present["distinct_days"] < MIN_EVIDENCE_DAYS]
    if len(few_days):
        found.append(
            f"{len(few_days)} class(es) have evidence on fewer than {MIN_EVIDENCE_DAYS} "
            "distinct days "
            f"(too few to forecast a rate of arrival): " + _listed(few_days["action"], limit)
        )
    outliers = present[present["outlier_gap"]]
    shown = len(outliers) if limit is None else limit
    for row in outliers.head(shown).itertuples(index=False):
        mine = per_stamp[per_stamp["code"] == list(names).index(row.action)]
        gaps = mine["ts"].diff().to_numpy()
        where = int(np.nanargmax(gaps))
        before = pd.Timestamp(int(mine["ts"].iloc[where - 1]), tz="UTC")
        after = pd.Timestamp(int(mine["ts"].iloc[where]), tz="UTC")
        spacing = _spacing(float(cast(float, row.median_gap_days)))
        found.append(
            f"{row.action!r}: a {row.largest_gap_days:,.0f}-day gap from {before:%Y-%m-%d} to "
            f"{after:%Y-%m-%d} (its usual spacing is {spacing}): an outlier date"
        )
    if len(outliers) > shown:
        found.append(f"... and {len(outliers) - shown} more classes with an outlier gap")
    if policy is not None:
        bar = policy.thresholds.adversarial_pass_rate[AutonomyState.SUPERVISED]
        blind = classes[classes["in_history"] & classes["in_policy"]]
        blind = blind[blind["adversarial_cases"] == 0]
        if bar > 0 and len(blind):
            found.append(
                f"{len(blind)} class(es) have no adversarial cases: their adversarial pass rate "
                f"counts as 0, so the adversarial bar ({bar:g} for SUPERVISED) is never met "
                f"and they stay MANUAL: " + _listed(blind["action"], limit)
            )
        small = classes[classes["below_supervised_min_samples"] & classes["in_history"]]
        if len(small):
            bar = policy.thresholds.min_samples[AutonomyState.SUPERVISED]
            found.append(
                f"{len(small)} class(es) have fewer cases than supervised.min_samples ({bar:,}) "
                "and cannot graduate on this history: " + _listed(small["action"], limit)
            )
    pooled = present[present["pooled_timestamps"] > 0]
    if len(pooled):
        columns = [c for c in AGENT_COLUMNS if c in history.columns]
        found.append(
            f"{len(pooled)} class(es) pool several {'/'.join(columns)} values at one timestamp "
            "(different agents counted as one class's evidence): "
            + _listed(pooled["action"], limit)
        )
    future = int(present["future_cases"].sum())
    if future:
        found.append(
            f"{future:,} case(s) are timestamped after {moment:%Y-%m-%d %H:%M} UTC (in the future)"
        )
    return found
