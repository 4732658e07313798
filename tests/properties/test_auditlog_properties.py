"""Property: any single changed byte in any stored value of the audit log is detected.

A small log (20 rows, decisions and approvals, every column filled somewhere) is
built once; each example copies it, changes one byte of one stored value of one
row as an attacker with the file would (triggers dropped, the raw bytes written
back, even when they are no longer UTF-8), and asks :func:`verify_audit`.

The property is shown to fail on a broken variant, in the test suite itself:
``test_the_property_fails_when_the_chain_omits_a_column`` builds the log with a
hash that leaves out the ``kind`` or the ``action`` column (as warrantd-gateway
0.2.0's chain does) and checks that Hypothesis then finds an undetected change.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from warrantd.auditlog import COLUMNS, verify_audit
from warrantd.auditlog import base as base_module
from warrantd.auditlog import chain as chain_module

from ..auditlog_helpers import attacker, build_log

ROWS = 20


@pytest.fixture(scope="module")
def base_log() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="warrantd-audit-prop-"))
    path = folder / "base.db"
    build_log(path, ROWS).close()
    yield path
    shutil.rmtree(folder)


def change_one_byte(base: Path, row: int, column: str, position: int, byte: int) -> Path | None:
    """A copy of ``base`` with one byte of one stored value changed; None when the change
    cannot be stored (a ``seq`` that would collide with another row's)."""
    folder = Path(tempfile.mkdtemp(prefix="warrantd-audit-case-"))
    path = folder / "log.db"
    shutil.copy(base, path)
    conn = attacker(path)
    value = conn.execute(f"SELECT {column} FROM entries WHERE seq = ?", (row,)).fetchone()[0]
    if value is None:
        # A NULL has no bytes: the smallest change is a one-byte value in its place.
        data = bytes([byte])
    else:
        raw = str(value).encode("utf-8")
        index = position % len(raw)
        assume(raw[index] != byte)
        data = raw[:index] + bytes([byte]) + raw[index + 1 :]
    try:
        # Written back as raw text: SQLite keeps the bytes (and the column's affinity
        # turns digits back into an integer, as any write to that column would).
        conn.execute(f"UPDATE entries SET {column} = CAST(? AS TEXT) WHERE seq = ?", (data, row))
    except sqlite3.DatabaseError:  # a seq that collides, or is not an integer
        conn.close()
        shutil.rmtree(folder)
        return None
    conn.close()
    return path


def check_single_byte(base: Path, row: int, column: str, position: int, byte: int) -> None:
    path = change_one_byte(base, row, column, position, byte)
    assume(path is not None)
    assert path is not None
    try:
        result = verify_audit(path)
        assert not result.ok, f"changed a byte of {column!r} in row {row}: {result.describe()}"
        assert result.row is not None and result.row <= row + 1
    finally:
        shutil.rmtree(path.parent)


rows = st.integers(1, ROWS)
columns = st.sampled_from(COLUMNS)
positions = st.integers(0, 10_000)
bytes_ = st.integers(0, 255)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=rows, column=columns, position=positions, byte=bytes_)
def test_any_single_changed_byte_is_detected(
    base_log: Path, row: int, column: str, position: int, byte: int
) -> None:
    check_single_byte(base_log, row, column, position, byte)


def _omitting(column: str, original: Callable[[Sequence[object]], str]) -> Callable[..., str]:
    index = COLUMNS.index(column)

    def broken(values: Sequence[object]) -> str:
        blanked = list(values)
        blanked[index] = None
        return original(blanked)

    return broken


@pytest.mark.parametrize("omitted", ["kind", "action"])
def test_the_property_fails_when_the_chain_omits_a_column(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, omitted: str
) -> None:
    broken = _omitting(omitted, chain_module.row_hash)
    monkeypatch.setattr(chain_module, "row_hash", broken)
    monkeypatch.setattr(base_module, "row_hash", broken)  # where appends chain their rows
    base = tmp_path / "broken.db"
    build_log(base, ROWS).close()
    assert verify_audit(base).ok  # the broken chain verifies its own log

    @settings(max_examples=2_000, database=None, derandomize=True)
    @given(row=rows, position=positions, byte=bytes_)
    def on_broken_chain(row: int, position: int, byte: int) -> None:
        check_single_byte(base, row, omitted, position, byte)

    with pytest.raises(AssertionError, match=f"changed a byte of '{omitted}'"):
        on_broken_chain()
