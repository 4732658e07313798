"""Regenerate the synthetic datasets in this folder (run: make datasets).

billing-agent.csv       one row per case, from warrantd.analytics.synth.generate(seed=7)
billing-agent-runs.csv  the same history in the counts-per-run form
billing-agent.traffic.csv  production requests over the same 180 days, from
                        warrantd.analytics.synth.generate_traffic(seed=7), with the verdict a
                        gate running billing-agent.policy.toml with a cumulative window returned
coding-agent-runs.csv   a run-based history: generate(seed=3, mode="runs"), counts per run
"""

from __future__ import annotations

from pathlib import Path

from warrantd import load_policy
from warrantd.analytics import load_history, load_traffic, replay
from warrantd.analytics.history import save_history, write_csv
from warrantd.analytics.synth import counts_per_run, generate, generate_traffic

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
    # The decision log of a gate that ran the bundled policy with a cumulative window:
    # the verdicts it actually returned, which a report under another window compares.
    raw = generate_traffic(SEED)
    policy = load_policy(HERE / "billing-agent.policy.toml")
    history = load_history(HERE / "billing-agent.csv")
    returned = replay(history, policy, traffic=load_traffic(raw), window=None).decisions
    raw["verdict"] = returned["verdict"].astype(str).to_numpy()
    write_csv(raw, HERE / "billing-agent.traffic.csv")
    print(f"billing-agent.traffic.csv: {len(raw):,} requests")


if __name__ == "__main__":
    main()
