"""The SQLite audit log under several writers and under ``kill -9``.

* Four processes append 1,000 decisions each to one file: the chain verifies,
  it holds exactly 4,000 rows, and every writer's 1,000 keys are there once.
* A writer is killed with SIGKILL at a random moment while it appends (5 times
  in CI, 50 with ``WARRANTD_THOROUGH=1``): every append that returned (the
  writer prints its key only after ``append`` returns) is in the log with the
  seq it was given, the chain verifies, and the next writer continues it.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from warrantd.auditlog import COLUMNS, SQLiteAuditSink, verify_audit

ROOT = Path(__file__).resolve().parents[1]
THOROUGH = bool(os.environ.get("WARRANTD_THOROUGH"))
KILLS = 50 if THOROUGH else 5

WRITER = """
import sys
sys.path.insert(0, {root!r})
from tests.auditlog_helpers import approval, decision
from warrantd.auditlog import SQLiteAuditSink

path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = SQLiteAuditSink(path)
print("ready", flush=True)
i = 0
while count < 0 or i < count:
    if i % 10 == 9:
        seq = sink.append_approval(approval(i, action=tag))
        key = f"{{tag}}-approval-{{i}}"
    else:
        key = f"{{tag}}-{{i}}"
        seq = sink.append(decision(i, key=key))
    # Only after append returned: this line is the writer's claim that the row is stored.
    print(seq, key, flush=True)
    i += 1
"""


def writer(path: Path, tag: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT)), str(path), tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def stored(path: Path) -> dict[str, int]:
    """Key -> seq of every stored row: a decision by its idempotency key, an approval
    (which has none) by its writer's tag (its action) and its seq."""
    conn = sqlite3.connect(path)
    seq, key, kind, action = (
        COLUMNS.index(c) for c in ("seq", "idempotency_key", "kind", "action")
    )
    out: dict[str, int] = {}
    for row in conn.execute(f"SELECT {', '.join(COLUMNS)} FROM entries ORDER BY seq"):
        if row[kind] == "decision":
            assert row[key] not in out, f"duplicated {row[key]}"
            out[row[key]] = row[seq]
        else:
            out[f"{row[action]}-approval-seq{row[seq]}"] = row[seq]
    conn.close()
    return out


def test_four_processes_append_one_linear_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    SQLiteAuditSink(path).close()
    procs = [writer(path, f"w{n}", 1000) for n in range(4)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    result = verify_audit(path)
    assert result.ok, result.describe()
    assert result.rows == 4000
    rows = stored(path)
    assert len(rows) == 4000
    spans = []
    for n, (out, _) in enumerate(outputs):
        claims = [line.split() for line in out.splitlines()[1:]]
        assert len(claims) == 1000
        for seq, key in claims:
            if "approval" in key:
                assert rows[f"w{n}-approval-seq{seq}"] == int(seq)
            else:
                assert rows[key] == int(seq), key
        spans.append(int(claims[-1][0]) - int(claims[0][0]))
    # The writers interleaved: one chain, not four runs one after another.
    assert max(spans) > 1000


def test_a_writer_killed_mid_append_loses_nothing_it_returned(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    rng = random.Random(21)
    claimed: dict[str, int] = {}
    for kill in range(KILLS):
        proc = writer(path, f"k{kill}", -1)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.stdout.readline()  # at least one append returned: it is mid-stream now
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        lines = out.splitlines()
        for line in lines:
            seq, key = line.split()
            claimed[key if "approval" not in key else f"k{kill}-approval-seq{seq}"] = int(seq)
        result = verify_audit(path)
        assert result.ok, f"after kill {kill}: {result.describe()}"
        rows = stored(path)
        missing = {key: seq for key, seq in claimed.items() if rows.get(key) != seq}
        assert not missing, f"after kill {kill}, returned appends are gone: {missing}"
    # The next writer continues the chain.
    before = verify_audit(path).rows
    sink = SQLiteAuditSink(path)
    from .auditlog_helpers import decision

    assert sink.append(decision(0, key="after-the-crashes")) == before + 1
    final = verify_audit(path)
    assert final.ok and final.rows == before + 1
