"""The audit log under several writers and under ``kill -9``, in both backends.

Each test runs on a SQLite file and on a fresh PostgreSQL database (the
``audit_backend`` fixture, tests/conftest.py; the PostgreSQL run skips, saying why,
where no server can be started). PostgreSQL's server restarts are in
tests/test_auditlog_postgres_durability.py.

* Several processes append to one log at once (every 10th row an approval): the
  chain verifies, it holds exactly writers x rows, every writer's rows are there
  once with the seq its append returned, and the writers interleaved (one chain, not
  runs one after another).
* A writer is killed with SIGKILL at a random moment while it appends: every append
  that returned (the writer prints its key only after ``append`` returns) is in the
  log with the seq it was given, the chain verifies, and the next writer continues
  it. (PostgreSQL does not wait for the dead client: its open transaction is rolled
  back and its advisory lock released when the socket closes.)

How many writers, rows and kills: see :data:`WRITERS` and :data:`KILLS`;
``WARRANTD_THOROUGH=1`` (``make test-thorough``) runs the larger counts.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from warrantd.auditlog import COLUMNS, open_sink, verify_audit

from .auditlog_helpers import Backend, decision

ROOT = Path(__file__).resolve().parents[1]
THOROUGH = bool(os.environ.get("WARRANTD_THOROUGH"))
#: (processes, appends each) for the concurrent writers test, per backend.
WRITERS = (
    {"sqlite": (4, 1000), "postgres": (8, 500)}
    if THOROUGH
    else {"sqlite": (4, 250), "postgres": (4, 250)}
)
#: Writers killed mid-append, one after another, per backend.
KILLS = 50 if THOROUGH else 5

WRITER = """
import os
import sys
sys.path.insert(0, {root!r})
from tests.auditlog_helpers import approval, decision
from warrantd.auditlog import open_sink

source, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sink = open_sink(source)
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
    # One write() of the whole line: a pipe write under PIPE_BUF bytes is atomic, so a
    # kill lands before or after a claim, never inside one.
    os.write(1, f"{{seq}} {{key}}\\n".encode())
    i += 1
"""


def writer(source: object, tag: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT)), str(source), tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def stored(backend: Backend) -> dict[str, int]:
    """Key -> seq of every stored row: a decision by its idempotency key, an approval
    (which has none) by its writer's tag (its action) and its seq."""
    seq, key, kind, action = (
        COLUMNS.index(c) for c in ("seq", "idempotency_key", "kind", "action")
    )
    out: dict[str, int] = {}
    for row in backend.rows():
        if row[kind] == "decision":
            assert row[key] not in out, f"duplicated {row[key]}"
            out[str(row[key])] = int(str(row[seq]))
        else:
            out[f"{row[action]}-approval-seq{row[seq]}"] = int(str(row[seq]))
    return out


def test_several_processes_append_one_linear_chain(audit_backend: Backend) -> None:
    processes, count = WRITERS[audit_backend.name]
    open_sink(audit_backend.source).close()
    procs = [writer(audit_backend.source, f"w{n}", count) for n in range(processes)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    result = verify_audit(audit_backend.source)
    assert result.ok, result.describe()
    assert result.rows == processes * count
    rows = stored(audit_backend)
    assert len(rows) == processes * count
    spans = []
    for n, (out, _) in enumerate(outputs):
        claims = [line.split() for line in out.splitlines()[1:]]
        assert len(claims) == count
        for seq, key in claims:
            if "approval" in key:
                assert rows[f"w{n}-approval-seq{seq}"] == int(seq)
            else:
                assert rows[key] == int(seq), key
        spans.append(int(claims[-1][0]) - int(claims[0][0]))
    # The writers interleaved: one chain, not runs one after another.
    assert max(spans) > count


def test_a_writer_killed_mid_append_loses_nothing_it_returned(audit_backend: Backend) -> None:
    source = audit_backend.source
    rng = random.Random(21)
    claimed: dict[str, int] = {}
    for kill in range(KILLS):
        proc = writer(source, f"k{kill}", -1)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr
        proc.stdout.readline()  # at least one append returned: it is mid-stream now
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        # read(), not communicate(): communicate() reads the pipe itself and would miss
        # (or cut in two) the lines readline() already took into the stream's buffer.
        out = proc.stdout.read()
        proc.wait(timeout=60)
        assert proc.stderr is not None
        proc.stderr.close()
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        # A claim is a whole line: text after the last newline (if a kill ever split a
        # write) is not a claim and is not counted.
        for line in out.split("\n")[:-1]:
            seq, key = line.split()
            claimed[key if "approval" not in key else f"k{kill}-approval-seq{seq}"] = int(seq)
        result = verify_audit(source)
        assert result.ok, f"after kill {kill}: {result.describe()}"
        rows = stored(audit_backend)
        missing = {key: seq for key, seq in claimed.items() if rows.get(key) != seq}
        assert not missing, f"after kill {kill}, returned appends are gone: {missing}"
    # The next writer continues the chain (for PostgreSQL: the dead writers' locks are gone).
    before = verify_audit(source).rows
    sink = open_sink(source)
    assert sink.append(decision(0, key="after-the-crashes")) == before + 1
    final = verify_audit(source)
    assert final.ok and final.rows == before + 1
