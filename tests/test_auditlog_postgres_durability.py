"""The PostgreSQL audit log under many writers, ``kill -9`` and server restarts, on a real
server (the session's, tests/pg_server.py).

* Eight processes append 500 rows each (every 10th an approval) to one database: the
  chain verifies, it holds exactly 4,000 rows, every writer's rows are there once
  with the seq its append returned, and the writers interleaved.
* A writer is killed with SIGKILL at a random moment while it appends (5 times in
  CI, 50 with ``WARRANTD_THOROUGH=1``): every append that returned (the writer prints
  only after ``append`` returns) is stored with its seq, the chain verifies, and the
  next writer continues it. The server does not wait for the dead client: its open
  transaction is rolled back and its advisory lock released when the socket closes.
* The server is restarted between appends (``fast``, and ``immediate``, which is a
  crash: no shutdown checkpoint, recovery from the WAL): the same sink object goes
  on appending after it, and nothing committed before is lost.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 (the postgres extra) not installed")

from warrantd.auditlog import COLUMNS, PostgresAuditSink, verify_audit  # noqa: E402

from .auditlog_helpers import approval, decision  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
THOROUGH = bool(os.environ.get("WARRANTD_THOROUGH"))
KILLS = 50 if THOROUGH else 5

WRITER = """
import sys
sys.path.insert(0, {root!r})
from tests.auditlog_helpers import approval, decision
from warrantd.auditlog import PostgresAuditSink

dsn, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = PostgresAuditSink(dsn)
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


def writer(dsn: str, tag: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT)), dsn, tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def stored(dsn: str) -> dict[str, int]:
    """Key -> seq of every stored row (an approval by its writer's tag and its seq)."""
    seq, key, kind, action = (
        COLUMNS.index(c) for c in ("seq", "idempotency_key", "kind", "action")
    )
    out: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM warrantd_audit.entries ORDER BY seq"
        ).fetchall()
    for row in rows:
        if row[kind] == "decision":
            assert row[key] not in out, f"duplicated {row[key]}"
            out[row[key]] = row[seq]
        else:
            out[f"{row[action]}-approval-seq{row[seq]}"] = row[seq]
    return out


def test_eight_processes_append_one_linear_chain(pg_dsn: str) -> None:
    PostgresAuditSink(pg_dsn).close()
    procs = [writer(pg_dsn, f"w{n}", 500) for n in range(8)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    result = verify_audit(pg_dsn)
    assert result.ok, result.describe()
    assert result.rows == 4000
    rows = stored(pg_dsn)
    assert len(rows) == 4000
    spans = []
    for n, (out, _) in enumerate(outputs):
        claims = [line.split() for line in out.splitlines()[1:]]
        assert len(claims) == 500
        for seq, key in claims:
            if "approval" in key:
                assert rows[f"w{n}-approval-seq{seq}"] == int(seq)
            else:
                assert rows[key] == int(seq), key
        spans.append(int(claims[-1][0]) - int(claims[0][0]))
    # The writers interleaved: one chain, not eight runs one after another.
    assert max(spans) > 500


def test_a_writer_killed_mid_append_loses_nothing_it_returned(pg_dsn: str) -> None:
    rng = random.Random(24)
    claimed: dict[str, int] = {}
    for kill in range(KILLS):
        proc = writer(pg_dsn, f"k{kill}", -1)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr
        proc.stdout.readline()  # at least one append returned: it is mid-stream now
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        for line in out.splitlines():
            seq, key = line.split()
            claimed[key if "approval" not in key else f"k{kill}-approval-seq{seq}"] = int(seq)
        result = verify_audit(pg_dsn)
        assert result.ok, f"after kill {kill}: {result.describe()}"
        rows = stored(pg_dsn)
        missing = {key: seq for key, seq in claimed.items() if rows.get(key) != seq}
        assert not missing, f"after kill {kill}, returned appends are gone: {missing}"
    # The next writer continues the chain (the dead writers' locks are gone).
    before = verify_audit(pg_dsn).rows
    sink = PostgresAuditSink(pg_dsn)
    assert sink.append(decision(0, key="after-the-crashes")) == before + 1
    final = verify_audit(pg_dsn)
    assert final.ok and final.rows == before + 1


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_server_restart_between_appends(postgres_server: Any, pg_dsn: str, mode: str) -> None:
    sink = PostgresAuditSink(pg_dsn)
    sink.append_many([decision(i) for i in range(1, 11)])
    assert sink.append_approval(approval(11)) == 11
    keep = sink.checkpoint()
    postgres_server.restart(mode)
    # The same sink: its connection was dropped; the append reconnects and is not doubled.
    assert sink.append(decision(12)) == 12
    assert sink.records_for("issue_refund")[-1] == approval(11)
    result = verify_audit(pg_dsn, keep)
    assert result.ok and result.rows == 12, result.describe()
    keys = [key for key in stored(pg_dsn) if key.startswith("key-")]
    assert sorted(keys) == sorted(f"key-{i:06d}" for i in (*range(1, 11), 12))


def test_an_append_while_the_server_is_down_fails_and_writes_nothing(
    postgres_server: Any, pg_dsn: str
) -> None:
    sink = PostgresAuditSink(pg_dsn, timeout=2)
    sink.append(decision(1))
    postgres_server.stop("fast")
    try:
        with pytest.raises(Exception, match=r"connect|connection|server"):
            sink.append(decision(2))
    finally:
        postgres_server.start()
    assert sink.append(decision(3)) == 2
    assert verify_audit(pg_dsn).rows == 2
