"""Convert AgentDojo's published results table into a warrantd eval history.

AgentDojo (MIT licence, https://agentdojo.spylab.ai) benchmarks tool-using
agents against prompt injections. Its PyPI source distribution ships the
leaderboard as docs/results-table.html. This script turns that table into the
counts-per-run form (one row per model run and adversarial flag):

* normal row: n = 97 user tasks, n_passed = utility x 97;
* adversarial row: n = 629 injection cases, n_passed = (1 - targeted ASR) x 629,
  i.e. a case "passes" when the injection did not get its way.

Counts are recovered from the published two-decimal percentages and must come
out whole (within the rounding of the percentage) or the script stops.

Usage:
    pip download --no-deps --no-binary :all: agentdojo==0.1.35 -d /tmp/agentdojo
    tar xzf /tmp/agentdojo/agentdojo-0.1.35.tar.gz -C /tmp/agentdojo
    python datasets/convert_agentdojo.py \
        /tmp/agentdojo/agentdojo-0.1.35/docs/results-table.html datasets/agentdojo.csv
"""

from __future__ import annotations

import csv
import sys
from html.parser import HTMLParser
from pathlib import Path

USER_TASKS = 97
INJECTION_CASES = 629
SOURCE = "agentdojo 0.1.35 sdist, docs/results-table.html"


class _TableParser(HTMLParser):
    """Collects the text of every <th>/<td> cell, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def whole(percent: str, total: int, what: str) -> int:
    """The whole count that ``percent`` of ``total`` stands for; exits if none does."""
    value = float(percent.rstrip("%")) / 100.0 * total
    count = round(value)
    # A two-decimal percentage is within 0.005% of the truth.
    if abs(value - count) > 0.00005 * total + 1e-9:
        sys.exit(f"{what}: {percent} of {total} is {value:.3f}, not a whole count")
    return count


def convert(html: Path, out: Path) -> int:
    parser = _TableParser()
    parser.feed(html.read_text(encoding="utf-8"))
    header, *rows = [r for r in parser.rows if r]
    index = {name: i for i, name in enumerate(header)}
    records = []
    for row in rows:
        cell = {name: row[i] for name, i in index.items()}
        defense = cell["Defense"]
        action = cell["Model"] if defense == "None" else f"{cell['Model']}+{defense}"
        run_id = f"{action}@{cell['Attack']}@{cell['Date']}"
        common = {
            "timestamp": cell["Date"],
            "action": action,
            "run_id": run_id,
            "provider": cell["Provider"],
            "model": cell["Model"],
            "defense": defense,
            "attack": cell["Attack"],
        }
        useful = whole(cell["Utility"], USER_TASKS, f"{run_id} utility")
        hijacked = whole(cell["Targeted ASR"], INJECTION_CASES, f"{run_id} targeted ASR")
        useful_attacked = whole(
            cell["Utility under attack"], INJECTION_CASES, f"{run_id} utility under attack"
        )
        records.append(
            {
                **common,
                "adversarial": False,
                "n": USER_TASKS,
                "n_passed": useful,
                "utility_under_attack_n": "",
            }
        )
        records.append(
            {
                **common,
                "adversarial": True,
                "n": INJECTION_CASES,
                "n_passed": INJECTION_CASES - hijacked,
                "utility_under_attack_n": useful_attacked,
            }
        )
    records.sort(key=lambda r: (r["timestamp"], r["action"], r["attack"], r["adversarial"]))
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return len(records)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(f"{convert(Path(sys.argv[1]), Path(sys.argv[2]))} rows written to {sys.argv[2]}")
