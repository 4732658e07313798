"""Eval histories: the one tidy schema, loaders with clear errors, and a writer.

Everything in :mod:`warrantd.analytics` reads eval results through this module.
A loaded history is a pandas DataFrame in *canonical form*:

=================  ==========================  =====================================
column             dtype                       meaning
=================  ==========================  =====================================
``timestamp``      ``datetime64[ns, UTC]``     when the case (or run) happened
``action``         ``category`` (str, sorted)  action class name, as in the policy
``adversarial``    ``bool``                    from the adversarial / red-team suite
``n``              ``int32``                   cases in the row (1 for a case row)
``n_passed``       ``int32``                   cases in the row that passed
=================  ==========================  =====================================

followed by the optional ``tenant_id`` and ``agent_version`` (categories of
their text), ``case_id`` (text) and any extra columns, untouched. Categories and
32-bit counts keep a million cases in a few tens of megabytes. Rows are sorted by time, stably, so
rows that share a timestamp keep their input order.

Two input forms load into it: one row per case with a boolean ``passed``
column, or one row per eval run with ``n`` and ``n_passed`` counts. Bad input
raises :class:`HistoryError` naming the file, the 1-based data row (the header
of a CSV file is not counted), the column and the value, with up to
:data:`MAX_PROBLEMS` problems in one message. No row is ever dropped.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .._io import atomic_write
from ..errors import MAX_PROBLEMS, InputError, OptionError
from ..policy import TrustPolicy
from ._engine import timestamps_ns

__all__ = [
    "CANONICAL_COLUMNS",
    "FORMATS",
    "MAX_PROBLEMS",
    "HistoryError",
    "PolicyCoverage",
    "load_history",
    "save_history",
    "timestamps_ns",
    "validate_against",
    "write_csv",
]

CANONICAL_COLUMNS = ["timestamp", "action", "adversarial", "n", "n_passed"]
STRING_COLUMNS = ["tenant_id", "case_id", "agent_version"]
#: Reading formats by name, and the file suffixes that select them.
FORMATS = {
    "csv": (".csv",),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson"),
    "json": (".json",),
}
# pandas 3 deprecates convert_dates (dtype=False covers it); pandas 2 needs it said.
_NO_JSON_CONVERSION: dict[str, Any] = (
    {"dtype": False}
    if int(pd.__version__.split(".")[0]) >= 3
    else {"dtype": False, "convert_dates": False}
)

_TRUE = {"true", "t", "1", "1.0", "yes", "y", "pass", "passed"}
_FALSE = {"false", "f", "0", "0.0", "no", "n", "fail", "failed"}
_SOURCE_COLUMNS_AS_TEXT = [
    "timestamp",
    "action",
    "passed",
    "adversarial",
    "n",
    "n_passed",
    *STRING_COLUMNS,
]


@dataclass(frozen=True)
class Problem:
    """One bad value: where (1-based ``row`` or ``line``, ``column``), the value and why."""

    row: int | None
    column: str | None
    value: object
    message: str
    unit: str = "row"  # "row": a data row (a CSV header is not counted); "line": a text line
    renamed_from: str | None = None  # the user's own name of a renamed column

    def describe(self) -> str:
        where = [f"{self.unit} {self.row}"] if self.row is not None else []
        if self.column is not None and self.renamed_from is not None:
            where.append(f"column {self.renamed_from!r} (read as {self.column!r})")
        elif self.column is not None:
            where.append(f"column {self.column!r}")
        if self.value is _NO_VALUE:
            shown = ""
        elif _is_missing(self.value):
            shown = ": (empty)"  # an empty CSV cell reads as NaN; say what the user wrote
        else:
            shown = f": {self.value!r}"
        return f"{', '.join(where)}{shown}: {self.message}" if where else self.message


_NO_VALUE = object()


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes have no single truth value
        return False


class HistoryError(InputError):
    """An eval history that cannot be loaded, with every problem found (up to 20 kept)."""

    def __init__(self, source: str, problems: list[Problem], total: int | None = None) -> None:
        self.problems = sorted(problems[:MAX_PROBLEMS], key=lambda p: p.row or 0)
        super().__init__(
            source, [p.describe() for p in self.problems], len(problems) if total is None else total
        )


def _fail(source: str, message: str, column: str | None = None) -> HistoryError:
    return HistoryError(source, [Problem(None, column, _NO_VALUE, message)])


# --------------------------------------------------------------------------- reading


def _format_of(path: Path, fmt: str | None, source: str) -> tuple[str, str | None]:
    """The reading format and compression of ``path``."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = "gzip" if suffixes and suffixes[-1] == ".gz" else None
    if compression:
        suffixes = suffixes[:-1]
    if fmt is not None:
        if fmt not in FORMATS:
            raise _fail(source, f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
        return fmt, compression
    suffix = suffixes[-1] if suffixes else ""
    for name, known in FORMATS.items():
        if suffix in known:
            return name, compression
    supported = ", ".join(s for known in FORMATS.values() for s in known)
    raise _fail(
        source,
        f"unsupported file suffix {suffix or '(none)'!r} (supported: {supported}, "
        "optionally gzip-compressed as .gz; or say the format: --format / format=)",
    )


def _read_file(
    path: Path,
    fmt: str,
    compression: str | None,
    column_map: Mapping[str, str],
    source: str,
    encoding: str,
) -> pd.DataFrame:
    if path.is_dir():
        raise _fail(source, "is a directory, not a history file")
    if not path.exists():
        raise _fail(source, "no such file")
    if path.stat().st_size == 0:
        raise _fail(source, "the file is empty")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise _fail(source, f"unknown text encoding {encoding!r}") from None
    try:
        if fmt == "csv":
            return _read_csv(path, compression, column_map, source, encoding)
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "json":
            return _read_json(path, compression, source, encoding)
        return _read_json_lines(path, compression, source, encoding)
    except HistoryError:
        raise
    except UnicodeDecodeError:
        raise _undecodable(path, compression, source, encoding, fmt) from None
    except pd.errors.EmptyDataError:
        raise _fail(source, "the file is empty (no header, no rows)") from None
    except pd.errors.ParserError as exc:
        raise _fail(source, _parser_message(str(exc), fmt)) from None
    except (ValueError, OSError) as exc:
        raise _fail(source, f"not a valid {fmt} file ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _parser_message(text: str, fmt: str) -> str:
    # pandas: "Error tokenizing data. C error: Expected 3 fields in line 5, saw 4"
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if match:
        want, line, saw = match.groups()
        return f"line {line}: {saw} fields where the header has {want}"
    first = text.strip().splitlines()[0] if text.strip() else "unreadable"
    return f"not a valid {fmt} file ({first})"


def _read_csv(
    path: Path,
    compression: str | None,
    column_map: Mapping[str, str],
    source: str,
    encoding: str,
) -> pd.DataFrame:
    # Known columns are read as text so that error messages quote the value as written.
    as_text = {orig: str for orig in _source_names(column_map)}
    return pd.read_csv(
        path,
        compression=cast(Any, compression),
        dtype=as_text,
        keep_default_na=False,
        # A trailing comma on every data row must not make the first column an index.
        index_col=False,
        na_values=[""],
        encoding=encoding,
    )


def _source_names(column_map: Mapping[str, str]) -> dict[str, str]:
    """Source column name -> canonical name, for the columns read as text."""
    names = {c: c for c in _SOURCE_COLUMNS_AS_TEXT}
    for orig, new in column_map.items():
        if new in _SOURCE_COLUMNS_AS_TEXT:
            names[orig] = new
    return names


def _open_text(path: Path, compression: str | None, encoding: str) -> Any:
    if compression:
        return gzip.open(path, "rt", encoding=encoding)
    return open(path, encoding=encoding)


_JSON_NAMES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    dict: "object",
    list: "array",
}


def _read_json(path: Path, compression: str | None, source: str, encoding: str) -> pd.DataFrame:
    """A JSON array of row objects, or one object of equal-length column arrays."""
    with _open_text(path, compression, encoding) as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise _fail(source, f"{where}: not valid JSON ({exc.msg})") from None
    if isinstance(data, list):
        bad = next((i for i, row in enumerate(data) if not isinstance(row, dict)), None)
        if bad is not None:
            raise HistoryError(
                source,
                [Problem(bad + 1, None, data[bad], "not a JSON object (one object per row)")],
            )
        return pd.DataFrame.from_records(data)
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise _fail(source, "the column arrays of the JSON object differ in length")
        return pd.DataFrame(data)
    raise _fail(
        source,
        f"holds a JSON {_JSON_NAMES.get(type(data), type(data).__name__)}: expected an "
        "array of row objects "
        "or an object of column arrays",
    )


def _read_json_lines(
    path: Path, compression: str | None, source: str, encoding: str
) -> pd.DataFrame:
    try:
        return cast(
            pd.DataFrame,
            pd.read_json(
                path,
                lines=True,
                compression=cast(Any, compression),
                encoding=encoding,
                **_NO_JSON_CONVERSION,
            ),
        )
    except ValueError:
        pass  # find which lines are bad, below: only on this error path
    problems: list[Problem] = []
    with _open_text(path, compression, encoding) as fh:
        for number, line in enumerate(fh, 1):
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                why = f"not valid JSON ({exc.msg} at column {exc.colno})"
                problems.append(Problem(number, None, _NO_VALUE, why, "line"))
                continue
            if not isinstance(value, dict):
                why = "not a JSON object (one per line)"
                problems.append(Problem(number, None, value, why, "line"))
    if problems:
        raise HistoryError(source, problems)
    raise _fail(source, "not a valid jsonl file (each line must be one JSON object)")


def _undecodable(
    path: Path, compression: str | None, source: str, encoding: str, fmt: str
) -> HistoryError:
    """Where the first byte that ``encoding`` cannot decode sits: row (or line) and column.

    The file is decoded with every undecodable byte kept as a stand-in character
    (``surrogateescape``), then read as CSV records, so quoted commas and quoted
    line breaks put the byte in the right row and column.
    """
    if compression:
        with gzip.open(path) as fh:
            raw = fh.read()
    else:
        raw = path.read_bytes()
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        start = exc.start
    else:  # pragma: no cover - the reader failed, so decoding fails too
        start = 0
    advice = (
        f"cannot be decoded as {encoding} (byte {raw[start]:#04x}); pass the file's "
        "encoding, e.g. --encoding latin-1 (encoding= in Python)"
    )
    if fmt != "csv":
        line_number = raw.count(b"\n", 0, start) + 1
        return HistoryError(source, [Problem(line_number, None, _NO_VALUE, advice, "line")])
    text = raw.decode(encoding, errors="surrogateescape")
    records = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    for number, record in enumerate(records):  # only on this error path
        for index, cell in enumerate(record):
            if not any("\udc80" <= ch <= "\udcff" for ch in cell):
                continue
            value = cell.encode(encoding, errors="surrogateescape")
            if number == 0:
                return HistoryError(
                    source, [Problem(None, None, _NO_VALUE, f"the header: {value!r} {advice}")]
                )
            column = header[index] if index < len(header) else None
            return HistoryError(source, [Problem(number, column, value, advice)])
        if number == 0:
            header = record
    line_number = raw.count(b"\n", 0, start) + 1  # pragma: no cover - found above
    return HistoryError(source, [Problem(line_number, None, _NO_VALUE, advice, "line")])


# --------------------------------------------------------------------------- parsing


class _Collector:
    """Gathers problems across columns; counts them all, keeps the first by row.

    Each check keeps its first :data:`MAX_PROBLEMS` rows, so the first of all the
    problems, by row, are among those kept whatever column they are in.
    """

    def __init__(self, shown: Mapping[str, str] | None = None) -> None:
        self.problems: list[Problem] = []
        self.total = 0
        # The user's own name of a renamed column (--column / column_map), by our name.
        self.shown = dict(shown or {})

    def add_rows(self, frame: pd.DataFrame, bad: np.ndarray, column: str, message: str) -> None:
        rows = np.flatnonzero(bad)
        self.total += len(rows)
        original = self.shown.get(column)
        for i in rows[:MAX_PROBLEMS]:
            value = frame[column].iat[i]
            self.problems.append(Problem(int(i) + 1, column, value, message, "row", original))

    def first(self) -> list[Problem]:
        """The first :data:`MAX_PROBLEMS` problems by row."""
        return sorted(self.problems, key=lambda p: p.row or 0)[:MAX_PROBLEMS]


def _parse_timestamps(raw: pd.Series, issues: _Collector, frame: pd.DataFrame) -> pd.Series:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return cast(pd.Series, raw.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"))
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return cast(pd.Series, raw.dt.tz_localize("UTC").astype("datetime64[ns, UTC]"))
    missing = raw.isna().to_numpy()
    numeric = pd.to_numeric(raw, errors="coerce")
    is_number = numeric.notna().to_numpy()
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    # Numbers are epoch seconds; two shapes of number are not, and are said so rather
    # than read as a date in 1970 or in the year 5000.
    values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
    compact = is_number & (values >= 19_000_101) & (values <= 21_001_231) & (values % 1 == 0)
    compact &= (
        pd.to_datetime(
            numeric.where(compact).astype("Int64").astype(str), format="%Y%m%d", errors="coerce"
        )
        .notna()
        .to_numpy()
    )
    millis = is_number & (np.abs(values) >= 1e11)
    plain = is_number & ~compact & ~millis
    if plain.any():
        seconds = numeric[plain].astype("float64")
        out[plain] = pd.to_datetime(seconds * 1e9, unit="ns", utc=True, errors="coerce")
    issues.add_rows(
        frame,
        compact,
        "timestamp",
        "looks like a date written YYYYMMDD; write it as ISO-8601 (2026-01-05) or epoch seconds",
    )
    issues.add_rows(
        frame,
        millis,
        "timestamp",
        "looks like epoch milliseconds (or later); timestamps are ISO-8601 text or epoch seconds",
    )
    text = ~is_number & ~missing
    if text.any():
        parsed = pd.to_datetime(
            raw[text].astype(str).str.strip(), utc=True, errors="coerce", format="ISO8601"
        )
        out[text] = parsed
    issues.add_rows(frame, missing, "timestamp", "missing value in a required field")
    bad = out.isna().to_numpy() & ~missing & ~compact & ~millis
    issues.add_rows(
        frame, bad, "timestamp", "not a timestamp (expected ISO-8601 text or epoch seconds)"
    )
    return out


def _parse_bools(
    raw: pd.Series, column: str, issues: _Collector, frame: pd.DataFrame, required: bool
) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype(bool)
    missing = raw.isna().to_numpy()
    text = raw.astype(str).str.strip().str.lower()
    out = pd.Series(np.where(text.isin(_TRUE), True, False), index=raw.index)
    bad = ~(text.isin(_TRUE) | text.isin(_FALSE)).to_numpy() & ~missing
    if required:
        issues.add_rows(frame, missing, column, "missing value in a required field")
    else:
        issues.add_rows(frame, missing, column, "missing value (leave out the column for False)")
    issues.add_rows(
        frame, bad, column, "not a boolean (expected true/false, 1/0, yes/no or pass/fail)"
    )
    return out


def _parse_counts(
    raw: pd.Series, column: str, issues: _Collector, frame: pd.DataFrame
) -> tuple[pd.Series, np.ndarray]:
    """The counts as int64, and a mask of the rows whose count is valid."""
    missing = raw.isna().to_numpy()
    numeric = pd.to_numeric(raw, errors="coerce").astype("float64")
    values = numeric.to_numpy()
    not_number = (np.isnan(values) | np.isinf(values)) & ~missing
    finite = np.isfinite(values)
    fractional = finite & (values != np.round(values))
    negative = finite & (values < 0)
    issues.add_rows(frame, missing, column, "missing value in a required field")
    issues.add_rows(frame, not_number | fractional, column, "not a whole number of cases")
    issues.add_rows(frame, negative & ~fractional, column, "negative count")
    huge = finite & (values > np.iinfo(np.int32).max)
    issues.add_rows(frame, huge & ~fractional, column, "more cases than one row can hold")
    valid = finite & ~fractional & ~negative & ~huge
    # int32: a row holds at most two billion cases, and a million rows cost 4 MB.
    return pd.Series(np.where(valid, values, 0).astype("int32"), index=raw.index), valid


def _parse_actions(raw: pd.Series, issues: _Collector, frame: pd.DataFrame) -> pd.Series:
    missing = raw.isna().to_numpy()
    names = _categories(raw)
    empty = ~missing & (names.astype(str).str.strip() == "").to_numpy()
    issues.add_rows(frame, missing, "action", "missing value in a required field")
    issues.add_rows(frame, empty, "action", "empty action name")
    return names


def _categories(raw: pd.Series) -> pd.Series:
    """Text as a categorical column of its distinct values, sorted (NaN stays missing)."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        present = raw.cat.remove_unused_categories()
        text = present.cat.rename_categories([str(c) for c in present.cat.categories])
        return text.cat.reorder_categories(sorted(text.cat.categories))
    missing = raw.isna()
    text = raw.where(missing, raw.astype(str))
    return text.astype(pd.CategoricalDtype(sorted(text[~missing].unique())))


def _canonicalize(
    raw: pd.DataFrame, source: str, shown: Mapping[str, str] | None = None
) -> pd.DataFrame:
    columns = list(raw.columns)
    has_case_form = "passed" in columns
    has_count_form = "n" in columns or "n_passed" in columns
    required = ["timestamp", "action"]
    missing = [c for c in required if c not in columns]
    if has_case_form and has_count_form:
        raise _fail(source, "has both 'passed' and 'n'/'n_passed' columns: use one form")
    if not has_case_form:
        missing += (
            [c for c in ("n", "n_passed") if c not in columns] if has_count_form else ["passed"]
        )
    if missing:
        found = ", ".join(map(str, columns)) or "none"
        raise _fail(
            source,
            f"missing required column(s) {', '.join(missing)} "
            f"(columns found: {found}; a history needs timestamp, action and "
            "passed, or n and n_passed)",
        )
    if raw.empty:
        raise _fail(source, "no rows (the file has a header but no data)")
    issues = _Collector(shown)
    frame = raw.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)
    out["timestamp"] = _parse_timestamps(frame["timestamp"], issues, frame)
    out["action"] = _parse_actions(frame["action"], issues, frame)
    if "adversarial" in columns:
        out["adversarial"] = _parse_bools(
            frame["adversarial"], "adversarial", issues, frame, required=False
        )
    else:
        out["adversarial"] = False
    if has_case_form:
        passed = _parse_bools(frame["passed"], "passed", issues, frame, required=True)
        out["n"] = np.ones(len(frame), dtype="int32")
        out["n_passed"] = passed.to_numpy().astype("int32")
    else:
        out["n"], valid_n = _parse_counts(frame["n"], "n", issues, frame)
        out["n_passed"], valid_passed = _parse_counts(frame["n_passed"], "n_passed", issues, frame)
        # Only rows with two valid counts can break the order between them.
        over = valid_n & valid_passed & (out["n_passed"] > out["n"]).to_numpy()
        issues.add_rows(frame, over, "n_passed", "n_passed is greater than n")
    if issues.total:
        raise HistoryError(source, issues.first(), issues.total)
    for column in STRING_COLUMNS:
        if column in columns:
            values = frame[column]
            if column == "case_id":  # one per case: text, not categories
                out[column] = values.where(values.isna(), values.astype(str)).astype("string")
            else:  # a handful of tenants and versions: categories cost one byte a row
                out[column] = _categories(values)
    extras = [c for c in columns if c not in out.columns and c != "passed"]
    for column in extras:
        out[column] = frame[column].to_numpy()
    stamps = timestamps_ns(out["timestamp"])
    if len(stamps) < 2 or bool(np.all(stamps[1:] >= stamps[:-1])):
        return out  # already in time order (most histories): no copy
    order = np.argsort(stamps, kind="stable")
    return out.take(order).reset_index(drop=True)


def load_history(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    column_map: Mapping[str, str] | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
    mapping: Any = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Load an eval history into canonical form (see the module docstring).

    ``source`` is a DataFrame or a path to ``.csv``, ``.parquet``, ``.jsonl`` /
    ``.ndjson`` or ``.json`` (each optionally ``.gz``), chosen by suffix unless
    ``format`` is given; text files are decoded with ``encoding``.
    ``column_map`` renames foreign columns first, e.g.
    ``{"tool": "action", "success": "passed"}`` (``--column action=tool`` on
    the command line); every column it names must exist.
    ``format="inspect"`` or ``"promptfoo"`` reads a tool's logs (a file or a
    folder), mapped by ``mapping`` (a TOML file or dict; ``strict`` makes a sample
    left out an error): see :mod:`warrantd.analytics.importers`.
    """
    if format in ("inspect", "promptfoo") and not isinstance(source, pd.DataFrame):
        from .importers import load_logs

        return load_logs(
            source, format=format, mapping=mapping, strict=strict, column_map=column_map
        )
    if mapping is not None or strict:
        raise OptionError(
            "mapping", "mapping= and strict= apply to format='inspect' or 'promptfoo'"
        )
    column_map = dict(column_map or {})
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        raw = source.copy()
    else:
        path = Path(source)
        name = str(path)
        fmt, compression = _format_of(path, format, name)
        raw = _read_file(path, fmt, compression, column_map, name, encoding)
    raw.columns = [str(c) for c in raw.columns]
    absent = [old for old in column_map if old not in raw.columns]
    if absent:
        found = ", ".join(repr(c) for c in raw.columns) or "none"
        raise _fail(
            name,
            f"the column mapping (--column / column_map) names column(s) the file lacks: "
            f"{', '.join(map(repr, absent))} "
            f"(columns found: {found})",
        )
    raw = raw.rename(columns=column_map)
    duplicated = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
    if duplicated:
        raise _fail(
            name,
            f"two columns would be called {', '.join(map(repr, duplicated))} after renaming "
            "(--column / column_map): rename only one of them",
        )
    shown = {new: old for old, new in column_map.items()}
    frame = _canonicalize(raw, name, shown)
    frame.attrs["source"] = name
    return frame


# --------------------------------------------------------------------------- writing


def save_history(history: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a canonical history to ``path`` by suffix, atomically.

    Timestamps are written as ISO-8601 UTC text (or native Parquet timestamps),
    so :func:`load_history` reads back the same frame.
    """
    target = Path(path)
    fmt, compression = _format_of(target, None, str(target))
    return atomic_write(target, lambda tmp: _write(history, tmp, fmt, compression))


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write any table to CSV atomically (a temporary file renamed into place)."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def _write(history: pd.DataFrame, tmp: Path, fmt: str, compression: str | None) -> None:
    if fmt == "parquet":
        history.to_parquet(tmp, index=False)
        return
    frame = history.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            # pandas spells full precision ("2026-01-05 00:35:28.5+00:00"), ISO-8601.
            frame[column] = frame[column].dt.tz_convert("UTC").astype(str)
    if fmt == "csv":
        frame.to_csv(tmp, index=False, compression=cast(Any, compression))
        return
    records = frame.to_dict(orient="records")
    text = (
        "".join(json.dumps(r, default=_json_default) + "\n" for r in records)
        if fmt == "jsonl"
        else json.dumps(records, default=_json_default)
    )
    if compression:
        import gzip

        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        tmp.write_text(text, encoding="utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")


# --------------------------------------------------------------------------- policy check


@dataclass(frozen=True)
class PolicyCoverage:
    """How a history's actions line up with a policy's action classes."""

    missing_from_policy: list[str]
    missing_from_history: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing_from_policy

    def describe(self) -> str:
        parts = []
        # repr: an action name may hold a NUL or a newline, which must stay visible.
        if self.missing_from_policy:
            names = ", ".join(map(repr, self.missing_from_policy))
            parts.append(f"in the history but not the policy: {names}")
        if self.missing_from_history:
            parts.append(
                "in the policy with no history: " + ", ".join(map(repr, self.missing_from_history))
            )
        return "; ".join(parts) or "every action in the history is in the policy, and vice versa"


def validate_against(history: pd.DataFrame, policy: TrustPolicy) -> PolicyCoverage:
    """Actions the history has that the policy lacks, and the reverse."""
    seen: Iterable[str] = history["action"].unique()
    in_history = set(map(str, seen))
    return PolicyCoverage(
        missing_from_policy=sorted(in_history - set(policy.actions)),
        missing_from_history=sorted(set(policy.actions) - in_history),
    )
