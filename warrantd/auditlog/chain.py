"""The audit log's one row layout, one canonical encoding, one hash chain and one verifier.

Every backend (SQLite today, PostgreSQL later) stores the same row and calls
the functions here; only how rows are written and read differs. Nothing in
this module touches a database: :func:`verify_chain` walks rows handed to it
by a :class:`LogReader`.

**The row.** :data:`COLUMNS` lists every stored column, in order. A row is
either a gate decision (``kind = "decision"``: an :class:`~warrantd.AuditEntry`)
or a human approval decision (``kind = "approval"``: an
:class:`~warrantd.ApprovalRecord`); columns that do not apply to a kind are
NULL. Values are stored as text or integers only (see :func:`entry_values` and
:func:`approval_values`): timestamps as ISO-8601 text as given, the request's
value as its exact decimal text, params as JSON.

**The encoding.** :func:`canonical_bytes` writes the values of every column but
``hash``, in :data:`COLUMNS` order, after the encoding's name, as one JSON array:
no whitespace, every non-ASCII character escaped as ``\\uXXXX`` (so the bytes are
ASCII), integers in decimal, NULL as ``null``, text as a JSON string, and the
two types a tampered row may hold besides, a float as its shortest repr and a
blob as ``{"blob": "<hex>"}``. JSON quoting makes it unambiguous (no two rows
encode alike, whatever their text holds) and a type change (``1`` stored as
the text ``'1'``) changes the bytes. Values are encoded as the database returns
them, so verification hashes what is stored, not what the writer meant to
store. (JSON, not a hand-rolled format: the C encoder makes verification about
five times faster.)

**The chain.** ``hash = SHA-256(canonical_bytes(row))`` in hex; ``prev_hash``
(one of the hashed columns) is the previous row's ``hash``, :data:`GENESIS` for
the first row, and ``seq`` (hashed too) counts rows from 1 without gaps. So
editing any stored value, deleting, inserting or reordering rows breaks the
chain somewhere; only removing rows from the end leaves an intact chain, and
that is what a :class:`Checkpoint` (row count and head hash, kept by the
operator elsewhere) catches.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ..audit import AuditEntry
from ..errors import InputError
from ..signals import ApprovalRecord

__all__ = [
    "COLUMNS",
    "GENESIS",
    "HASHED_COLUMNS",
    "SCHEMA_VERSION",
    "AuditLogError",
    "BadRow",
    "Checkpoint",
    "LogReader",
    "Verification",
    "approval_from_values",
    "approval_values",
    "canonical_bytes",
    "check_meta",
    "checkpoint_json",
    "dropped_triggers_notes",
    "entry_values",
    "is_dsn",
    "read_checkpoint",
    "redact",
    "row_hash",
    "verify_chain",
    "write_checkpoint",
]

#: The version of the row layout and encoding; stored in the log's ``meta`` table.
SCHEMA_VERSION = 1
#: What the ``meta`` table's ``format`` key holds in a warrantd audit log.
LOG_FORMAT = "warrantd-audit-log"
#: The ``prev_hash`` of the first row: a fixed value, the same for every log.
GENESIS = "0" * 64
#: Prefix of every encoded row: the encoding's name and version.
_MAGIC = "warrantd-audit-row/1"

#: Every stored column, in order. ``seq`` is the 1-based position in the chain.
COLUMNS: tuple[str, ...] = (
    "seq",
    "kind",  # "decision" or "approval"
    "recorded_at",  # when the log stored the row (UTC, ISO-8601), by the writer's clock
    "timestamp",  # the entry's or record's own timestamp, ISO-8601 as given (NULL: none)
    "action",
    "tenant_id",
    "value",  # the request's value as its exact decimal text
    "params",  # the request's params as JSON (sorted keys; str() for what JSON lacks)
    "verdict",  # the published Verdict value: ALLOW, REQUIRE_APPROVAL, BLOCK
    "state",  # the AutonomyState name the decision rested on
    "reason",
    "approved",  # 1 / 0; NULL when no approval step ran (decisions)
    "overridden",  # approvals: 1 when the approval was later overridden
    "executed",  # decisions: 1 when the action ran
    "failed",  # approvals: 1 when the approved action's execution raised an error
    "error",  # decisions: the failure message
    "idempotency_key",
    "approver",
    "prev_hash",
    "hash",
)
#: The columns the hash covers: every stored column but ``hash`` itself.
HASHED_COLUMNS: tuple[str, ...] = COLUMNS[:-1]
#: Columns holding integers (0/1 flags and ``seq``); every other column holds text.
INTEGER_COLUMNS = frozenset({"seq", "approved", "overridden", "executed", "failed"})

KIND_DECISION = "decision"
KIND_APPROVAL = "approval"


class AuditLogError(InputError):
    """A path that is not a readable warrantd audit log, or a bad checkpoint file."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(source, [problem])


# --------------------------------------------------------------------------- sources


def is_dsn(source: object) -> bool:
    """True when ``source`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)
    rather than a SQLite file."""
    return isinstance(source, str) and source.startswith(("postgresql://", "postgres://"))


def redact(dsn: str) -> str:
    """``dsn`` with its password replaced by ``***`` (for messages and results)."""
    dsn = re.sub(r"(://[^:/@?]*:)[^@/?]*@", r"\1***@", dsn)
    return re.sub(r"(password=)[^&\s]*", r"\1***", dsn)


def check_meta(meta: Mapping[str, str], source: str) -> None:
    """Raise :class:`AuditLogError` unless a log's ``meta`` table (``meta``, key to value)
    names a warrantd audit log of the version this code reads."""
    if meta.get("format") != LOG_FORMAT:
        raise AuditLogError(
            source, f"not a warrantd audit log (meta format {meta.get('format')!r})"
        )
    version = meta.get("schema_version")
    if version != str(SCHEMA_VERSION):
        raise AuditLogError(
            source,
            f"audit log schema version {version!r}; this warrantd reads version {SCHEMA_VERSION}",
        )


def dropped_triggers_notes(expected: Iterable[str], present: Iterable[str]) -> list[str]:
    """The verification note naming the ``expected`` triggers not ``present`` (none: [])."""
    found = set(present)
    gone = [name for name in expected if name not in found]
    return [f"the append-only triggers were dropped ({', '.join(gone)})"] if gone else []


# --------------------------------------------------------------------------- encoding


class _RowEncoder(json.JSONEncoder):
    """JSON for stored values: what a tampered row may hold besides text and integers."""

    def default(self, o: Any) -> Any:
        if isinstance(o, bytes):
            return {"blob": o.hex()}
        raise TypeError(f"cannot encode a {type(o).__name__} in the audit log: {o!r}")


_ENCODER = _RowEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False)


def canonical_bytes(values: Sequence[object]) -> bytes:
    """The canonical encoding of one row's hashed values, in :data:`HASHED_COLUMNS` order."""
    if len(values) != len(HASHED_COLUMNS):
        raise ValueError(f"{len(values)} values for {len(HASHED_COLUMNS)} hashed columns")
    return _ENCODER.encode([_MAGIC, *values]).encode("ascii")


def row_hash(values: Sequence[object]) -> str:
    """SHA-256 (hex) of :func:`canonical_bytes` of the row's hashed values."""
    return hashlib.sha256(canonical_bytes(values)).hexdigest()


# --------------------------------------------------------------------------- rows


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def _params_text(params: dict[str, Any]) -> str:
    # The published idempotency key's spelling: sorted keys, str() for what JSON lacks.
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def entry_values(entry: AuditEntry, recorded_at: str | None = None) -> dict[str, object]:
    """The stored values of a gate decision (every column but ``seq``, ``prev_hash``, ``hash``)."""
    req, decision = entry.request, entry.decision
    return {
        "kind": KIND_DECISION,
        "recorded_at": recorded_at or _now(),
        "timestamp": entry.timestamp.isoformat(),
        "action": req.action,
        "tenant_id": req.tenant_id,
        "value": None if req.value is None else str(req.value),
        "params": _params_text(req.params),
        "verdict": decision.verdict.value,
        "state": decision.autonomy_state.name,
        "reason": decision.reason,
        "approved": _flag(entry.approved),
        "overridden": None,
        "executed": _flag(entry.executed),
        "failed": None,
        "error": entry.error,
        "idempotency_key": entry.idempotency_key,
        "approver": None,
    }


def approval_values(record: ApprovalRecord, recorded_at: str | None = None) -> dict[str, object]:
    """The stored values of a human approval decision (as :func:`entry_values`)."""
    return {
        "kind": KIND_APPROVAL,
        "recorded_at": recorded_at or _now(),
        "timestamp": None if record.timestamp is None else record.timestamp.isoformat(),
        "action": record.action,
        "tenant_id": None,
        "value": None,
        "params": None,
        "verdict": None,
        "state": None,
        "reason": None,
        "approved": _flag(record.approved),
        "overridden": _flag(record.overridden),
        "executed": None,
        "failed": _flag(record.error),
        "error": None,
        "idempotency_key": None,
        "approver": record.approver,
    }


def approval_from_values(
    action: str,
    approved: int,
    overridden: int,
    failed: int,
    timestamp: str | None,
    approver: str | None,
) -> ApprovalRecord:
    """An :class:`ApprovalRecord` back from its stored values."""
    return ApprovalRecord(
        action=action,
        approved=bool(approved),
        overridden=bool(overridden),
        error=bool(failed),
        timestamp=None if timestamp is None else datetime.fromisoformat(timestamp),
        approver=approver,
    )


# --------------------------------------------------------------------------- checkpoints


class Checkpoint(NamedTuple):
    """The log's row count and the hash of its last row (:data:`GENESIS` when empty).

    Keep it outside the log (another host, a ticket, a signed message): a log
    verified against it must hold at least ``rows`` rows, and its row ``rows``
    must have the hash ``head``.
    """

    rows: int
    head: str


_CHECKPOINT_FORMAT = "warrantd-audit-checkpoint"


def checkpoint_json(checkpoint: Checkpoint) -> str:
    """The text of a checkpoint file (what :func:`read_checkpoint` reads)."""
    body = {"format": _CHECKPOINT_FORMAT, "version": 1, **checkpoint._asdict()}
    return json.dumps(body, indent=2) + "\n"


def write_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike[str]) -> Path:
    """Write ``checkpoint`` to ``path`` as JSON, atomically."""
    from .._io import write_text

    return write_text(path, checkpoint_json(checkpoint))


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint file written by :func:`write_checkpoint` (``AuditLogError`` if bad)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditLogError(source, "no such checkpoint file") from None
    except IsADirectoryError:
        raise AuditLogError(source, "is a directory, not a checkpoint file") from None
    except UnicodeDecodeError:
        raise AuditLogError(source, "not a checkpoint file (not UTF-8 text)") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuditLogError(source, f"not a checkpoint file (not JSON: {exc.msg})") from None
    if not isinstance(body, dict) or body.get("format") != _CHECKPOINT_FORMAT:
        raise AuditLogError(
            source, f"not a checkpoint file (no 'format': {_CHECKPOINT_FORMAT!r} in it)"
        )
    rows, head = body.get("rows"), body.get("head")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise AuditLogError(source, f"'rows': {rows!r} is not a row count")
    if not isinstance(head, str) or len(head) != 64 or set(head) - set("0123456789abcdef"):
        raise AuditLogError(source, f"'head': {head!r} is not a SHA-256 hex digest")
    return Checkpoint(rows, head)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class BadRow:
    """A row a reader could not decode; yielded in place of its values."""

    seq: int
    why: str


class LogReader(Protocol):
    """What :func:`verify_chain` needs from a backend."""

    def columns(self) -> list[str]:
        """The stored columns of the log's table, in table order."""
        ...

    def rows(self) -> Iterator[Sequence[object] | BadRow]:
        """Every row's values in :data:`COLUMNS` order, by ``seq`` ascending."""
        ...

    def seqs_with_hash(self, digest: str) -> list[int]:
        """The ``seq`` of every row whose ``hash`` is ``digest`` (on the error path only)."""
        ...


@dataclass(frozen=True)
class Verification:
    """The result of verifying a log: intact, or the first broken row and why.

    ``problem`` names the kind of break: ``"edited"`` (a row's values do not
    match its hash), ``"deleted"`` (a gap in ``seq``), ``"inserted"``,
    ``"reordered"``, ``"unlinked"`` (a row does not chain from the one before
    it), ``"truncated"`` (fewer rows than the checkpoint), ``"rewritten"`` (the
    checkpoint's row has another hash) or ``"schema"`` (columns added or
    removed). ``row`` is the ``seq`` of the first broken row (None for a schema
    change). ``notes`` say what verification could not see (no checkpoint) and
    what looks wrong without breaking the chain (the triggers are gone).
    """

    source: str
    rows: int
    head: str
    problem: str | None = None
    row: int | None = None
    reason: str = ""
    checkpoint: Checkpoint | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the chain is intact (and matches the checkpoint, when one was given)."""
        return self.problem is None

    def describe(self) -> str:
        """One line for people: the verdict, the row and why."""
        if not self.ok:
            where = f"row {self.row:,}" if self.row is not None else "the table"
            return f"{self.source}: BROKEN at {where}: {self.problem}: {self.reason}"
        text = f"{self.source}: intact, {self.rows:,} rows, head {self.head[:16]}"
        if self.checkpoint is not None:
            text += f"; matches the checkpoint ({self.checkpoint.rows:,} rows)"
        return text + "".join(f"; {note}" for note in self.notes)


NO_CHECKPOINT_NOTE = "no checkpoint given, so rows removed from the end would not show"


def verify_chain(
    reader: LogReader,
    source: str,
    checkpoint: Checkpoint | None = None,
    notes: Iterable[str] = (),
) -> Verification:
    """Walk the log once and return the first break (see :class:`Verification`).

    At each row, in order: its ``seq`` must be the next number (else rows were
    deleted or inserted), its ``prev_hash`` the previous row's hash (else it
    was moved, inserted or cut loose), and its hash that of its values (else it
    was edited). At the checkpoint's row the hash must be the checkpoint's head.
    """
    notes = list(notes)
    found = reader.columns()
    if found != list(COLUMNS):
        missing = [c for c in COLUMNS if c not in found]
        extra = [c for c in found if c not in COLUMNS]
        why = (
            (f"columns removed: {', '.join(missing)}; " if missing else "")
            + (f"columns added: {', '.join(extra)}; " if extra else "")
            + ("" if missing or extra else "columns reordered; ")
            + f"expected {', '.join(COLUMNS)}"
        )
        return Verification(source, 0, GENESIS, "schema", None, why, checkpoint)

    def broken(problem: str, row: int, reason: str, count: int, head: str) -> Verification:
        return Verification(source, count, head, problem, row, reason, checkpoint, tuple(notes))

    previous = GENESIS
    count = 0
    at_checkpoint: str | None = None
    for values in reader.rows():
        expected = count + 1
        if isinstance(values, BadRow):
            return broken("edited", values.seq, values.why, count, previous)
        seq = values[0]
        if seq != expected:
            if isinstance(seq, int) and not isinstance(seq, bool) and seq > expected:
                gap = (
                    f"row {expected:,} is"
                    if seq == expected + 1
                    else f"rows {expected:,}-{seq - 1:,} are"
                )
                why = f"{gap} missing (deleted)"
                return broken("deleted", expected, why, count, previous)
            why = f"seq {seq!r} where {expected:,} was due (a row was inserted)"
            return broken("inserted", expected, why, count, previous)
        stored_prev = values[-2]
        if stored_prev != previous:
            return broken(*_diagnose_link(reader, expected, stored_prev), count, previous)
        digest = row_hash(values[:-1])
        if digest != values[-1]:
            why = "its stored values do not match its hash (a value was edited)"
            return broken("edited", expected, why, count, previous)
        previous = digest
        count = expected
        if checkpoint is not None and count == checkpoint.rows:
            at_checkpoint = digest
    if checkpoint is not None:
        if count < checkpoint.rows:
            removed = (
                f"row {checkpoint.rows:,} was"
                if checkpoint.rows == count + 1
                else f"rows {count + 1:,}-{checkpoint.rows:,} were"
            )
            why = (
                f"the log holds {count:,} rows, the checkpoint {checkpoint.rows:,}: "
                f"{removed} removed from the end"
            )
            return broken("truncated", count + 1, why, count, previous)
        if checkpoint.rows and at_checkpoint != checkpoint.head:
            why = (
                f"its hash differs from the checkpoint's head: the log up to row "
                f"{checkpoint.rows:,} was rewritten since the checkpoint was taken "
                "(rows edited, inserted or removed with the chain recomputed)"
            )
            return broken("rewritten", checkpoint.rows, why, count, previous)
    else:
        notes.append(NO_CHECKPOINT_NOTE)
    return Verification(source, count, previous, None, None, "", checkpoint, tuple(notes))


def _diagnose_link(reader: LogReader, row: int, stored_prev: object) -> tuple[str, int, str]:
    """Why row ``row`` does not chain from the row before it (the error path only)."""
    where = reader.seqs_with_hash(stored_prev) if isinstance(stored_prev, str) else []
    before = "the genesis value" if row == 1 else f"row {row - 1:,}"
    if where and where[0] > row:
        return (
            "reordered",
            row,
            f"it chains from row {where[0]:,}, which now comes after it (rows were moved)",
        )
    if where and where[0] < row - 1:
        extra = row - 1 - where[0]
        return (
            "inserted",
            where[0] + 1,
            f"row {row:,} chains from row {where[0]:,}: {extra:,} row(s) before it were inserted",
        )
    return (
        "unlinked",
        row,
        f"its prev_hash is not the hash of {before} ({before} was rewritten or removed, "
        "or this row's link was edited)",
    )
