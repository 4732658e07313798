"""Regenerate the synthetic datasets in this folder (run: make datasets).

billing-agent.csv       one row per case, from warrantd.analytics.synth.generate(seed=7)
billing-agent-runs.csv  the same history in the counts-per-run form
coding-agent-runs.csv   a run-based history: generate(seed=3, mode="runs"), counts per run
"""

from __future__ import annotations

from pathlib import Path

from warrantd.analytics.history import save_history
from warrantd.analytics.synth import counts_per_run, generate

HERE = Path(__file__).resolve().parent
SEED = 7
RUNS_SEED = 3


def main() -> None:
    cases = generate(SEED)
    save_history(cases, HERE / "billing-agent.csv")
    save_history(counts_per_run(cases), HERE / "billing-agent-runs.csv")
    runs = counts_per_run(generate(RUNS_SEED, mode="runs"))
    save_history(runs, HERE / "coding-agent-runs.csv")
    print(
        f"billing-agent.csv: {len(cases):,} cases; billing-agent-runs.csv: "
        f"{len(counts_per_run(cases)):,} run rows; coding-agent-runs.csv: {len(runs):,} run rows"
    )


if __name__ == "__main__":
    main()
