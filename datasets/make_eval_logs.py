"""Regenerate datasets/support-agent-evals/ with the real tools (run: make eval-logs).

Runs the Inspect AI tasks in datasets/evals/support_agent.py against Inspect's mock
model, twice a week for six weeks, with the agent's skill rising run by run. Each
run's clock is set with faketime (apt-get install faketime), so the logs carry the
dates of a six-week history; everything else in them is what ``inspect eval`` wrote.
"""

from __future__ import annotations

import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.evals import tooling  # noqa: E402

OUT = HERE / "support-agent-evals" / "inspect"
FIRST_RUN = datetime(2026, 9, 7, 9, 0)  # a Monday
RUNS = 12  # Mondays and Thursdays
OUTAGE_RUN = 5  # the run in which the CRM tool was down for one lookup sample


def run_times() -> list[datetime]:
    return [FIRST_RUN + timedelta(days=7 * (k // 2) + 3 * (k % 2)) for k in range(RUNS)]


def main() -> None:
    if shutil.which("faketime") is None:
        sys.exit("make_eval_logs.py needs faketime: apt-get install faketime")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    env = {**tooling.os.environ, "INSPECT_DISPLAY": "none", "TZ": "UTC"}
    for k, when in enumerate(run_times()):
        skill = round(0.62 + 0.3 * k / (RUNS - 1), 3)  # 0.62 -> 0.92
        guard = round(0.55 + 0.4 * k / (RUNS - 1), 3)  # 0.55 -> 0.95
        args = [f"skill={skill}", f"guard={guard}", f"seed={k}"]
        if k == OUTAGE_RUN:
            args.append("outage=true")
        command = tooling.inspect_command(
            OUT,
            "eval",
            tasks="support_agent.py",
            task_args=args,
            clock=["faketime", when.strftime("%Y-%m-%d %H:%M:%S")],
        )
        (run,) = tooling.run_all([tooling.Job(command, OUT, env, cwd=HERE / "evals")])
        print(f"{when:%Y-%m-%d %a}: skill {skill}, guard {guard} ({run.seconds:.1f} s)")
    size = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(list(OUT.iterdir()))} logs, {size / 1024:.0f} KiB in {OUT}")


if __name__ == "__main__":
    main()
