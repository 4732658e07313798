"""Reading tables of rows (eval histories, traffic, approvals) with errors that say where.

The loaders of :mod:`~warrantd.analytics.history`,
:mod:`~warrantd.analytics.traffic` and :mod:`~warrantd.analytics.approvals` share
this module: the file formats (CSV, Parquet, JSON Lines, JSON; each optionally
gzip-compressed, with a CSV field never dropped nor a column silently renamed),
column renaming, the shape check (:func:`shape_problem`) and the parsers of the
columns they have in common (timestamps, booleans, names), each collecting
:class:`Problem` s that name the 1-based data row, the column as the user wrote it,
and the value. Histories and traffic also share the start of a load
(:func:`start_table`) and its end (:func:`carry_over_in_time_order`). What a *valid*
history, traffic or approvals table is stays in those modules.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ..errors import MAX_PROBLEMS, InputError, quote
from ._engine import timestamps_ns

__all__ = [
    "FIRST_ROW",
    "FORMATS",
    "NO_VALUE",
    "Problem",
    "ProblemCollector",
    "TableError",
    "carry_over_in_time_order",
    "categories",
    "empty_columns",
    "parse_bools",
    "parse_names",
    "parse_timestamps",
    "read_table",
    "shape_problem",
    "start_table",
    "table_error",
    "table_format",
]

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
        if self.value is NO_VALUE:
            shown = ""
        elif _is_missing(self.value):
            shown = ": (empty)"  # an empty CSV cell reads as NaN; say what the user wrote
        else:
            shown = f": {quote(self.value)}"
        return f"{', '.join(where)}{shown}: {self.message}" if where else self.message


NO_VALUE = object()


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes have no single truth value
        return False


class TableError(InputError):
    """A table (history, traffic) that cannot be loaded, with every problem found (up to
    :data:`MAX_PROBLEMS` kept, the first by row)."""

    def __init__(self, source: str, problems: list[Problem], total: int | None = None) -> None:
        self.problems = sorted(problems[:MAX_PROBLEMS], key=lambda p: p.row or 0)
        super().__init__(
            source, [p.describe() for p in self.problems], len(problems) if total is None else total
        )


def table_error(source: str, message: str, column: str | None = None) -> TableError:
    """A :class:`TableError` with one problem that has no row."""
    return TableError(source, [Problem(None, column, NO_VALUE, message)])


# --------------------------------------------------------------------------- reading


def table_format(path: Path, fmt: str | None, source: str) -> tuple[str, str | None]:
    """The reading format and compression of ``path`` (``fmt`` when given)."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = "gzip" if suffixes and suffixes[-1] == ".gz" else None
    if compression:
        suffixes = suffixes[:-1]
    if fmt is not None:
        if fmt not in FORMATS:
            raise table_error(
                source, f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})"
            )
        return fmt, compression
    suffix = suffixes[-1] if suffixes else ""
    for name, known in FORMATS.items():
        if suffix in known:
            return name, compression
    supported = ", ".join(s for known in FORMATS.values() for s in known)
    raise table_error(
        source,
        f"unsupported file suffix {suffix or '(none)'!r} (supported: {supported}, "
        "optionally gzip-compressed as .gz; or say the format: --format / format=)",
    )


def _read_file(
    path: Path,
    fmt: str,
    compression: str | None,
    text_columns: Mapping[str, str],
    source: str,
    encoding: str,
    what: str,
) -> pd.DataFrame:
    if path.is_dir():
        raise table_error(source, f"is a directory, not a {what} file")
    if not path.exists():
        raise table_error(source, "no such file")
    if path.stat().st_size == 0:
        raise table_error(source, "the file is empty")
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise table_error(source, f"unknown text encoding {encoding!r}") from None
    if fmt != "parquet" and not codec.startswith(("utf-16", "utf-32")):
        head = _first_bytes(path, compression)
        marked = next((codec for bom, _, codec in _BOMS if head.startswith(bom)), None)
        if marked is not None:
            # A UTF-16/32 byte-order mark says the encoding outright (Excel's "Unicode
            # text", iconv -t utf-16): read it so, whatever one-byte encoding was asked.
            encoding = marked
        else:
            wide = _wide_encoding(head)
            if wide is not None:
                raise table_error(source, wide)
    try:
        if fmt == "csv":
            return _read_csv(path, compression, text_columns, source, encoding)
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "json":
            return _read_json(path, compression, source, encoding)
        return _read_json_lines(path, compression, source, encoding)
    except TableError:
        raise
    except UnicodeDecodeError:
        raise _undecodable(path, compression, source, encoding, fmt) from None
    except pd.errors.EmptyDataError:
        raise table_error(source, "the file is empty (no header, no rows)") from None
    except pd.errors.ParserError as exc:
        raise table_error(source, _parser_message(str(exc), fmt)) from None
    except EOFError:
        raise table_error(
            source, "the compressed file is truncated (it ends before its end-of-stream marker)"
        ) from None
    except zlib.error as exc:
        raise table_error(source, f"the compressed file is damaged ({_first_line(exc)})") from None
    except (ValueError, OSError) as exc:
        raise table_error(source, f"not a valid {fmt} file ({_first_line(exc)})") from None


def _first_bytes(path: Path, compression: str | None, size: int = 64) -> bytes:
    """The first ``size`` bytes of the file's text (decompressed); empty if unreadable
    (the reader then says what is wrong)."""
    try:
        if compression:
            with gzip.open(path) as fh:
                return fh.read(size)
        with open(path, "rb") as fh:
            return fh.read(size)
    except (OSError, EOFError, zlib.error):
        return b""


#: Byte-order marks of the wide encodings, longest first (UTF-32's starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF16_LE, "UTF-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "UTF-16", "utf-16"),
)


def _wide_encoding(head: bytes) -> str | None:
    """What to say when a file's first bytes are UTF-16 text without a byte-order mark
    (a file with one is read in its encoding): ASCII with a NUL beside every character,
    which any one-byte reading turns into columns full of NULs. None for any other file."""
    advice = "pass --encoding {0} (encoding={0!r} in Python)"
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0 : 2 * pairs : 2], head[1 : 2 * pairs : 2]
    for text, nuls, codec in ((even, odd, "utf-16-le"), (odd, even, "utf-16-be")):
        if nuls == bytes(pairs) and 0 not in text:
            return "looks like UTF-16 (every other byte is NUL): " + advice.format(codec)
    return None


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
    text_columns: Mapping[str, str],
    source: str,
    encoding: str,
) -> pd.DataFrame:
    header = _csv_header(path, compression, encoding)
    separated = _other_separator(header, text_columns)
    if separated:
        raise table_error(source, separated)
    # Blank names (empty columns a spreadsheet exports) are not names: pandas numbers them.
    repeated = sorted(
        {name for name in header if name and header.count(name) > 1}, key=header.index
    )
    if repeated:
        name = repeated[0]
        places = " and ".join(str(i + 1) for i, n in enumerate(header) if n == name)
        raise table_error(
            source, f"header: column {name!r} appears more than once (columns {places})"
        )
    # Known columns are read as text so that error messages quote the value as written.
    as_text = {orig: str for orig in text_columns}

    def read(strict: bool) -> pd.DataFrame:
        with warnings.catch_warnings():
            # pandas drops the fields of a row longer than the header with only a
            # warning: that is data lost, so it is an error here, unless every dropped
            # field is empty (a row of trailing commas).
            warnings.simplefilter("error" if strict else "ignore", pd.errors.ParserWarning)
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

    try:
        return read(strict=True)
    except pd.errors.ParserWarning:
        long_row = _long_row(path, compression, encoding)
        if long_row is None:
            return read(strict=False)
        raise table_error(source, long_row) from None


#: Separators a spreadsheet writes instead of commas (a semicolon where the comma is
#: the decimal mark; a tab in "text" exports).
_OTHER_SEPARATORS = (";", "\t")
#: The columns every table read here needs (history, traffic, approvals).
_ALWAYS_REQUIRED = {"timestamp", "action"}


def _other_separator(header: Sequence[str], text_columns: Mapping[str, str]) -> str | None:
    """What to say when a header lacks the required columns read comma-separated, yet
    splitting it on ``;`` or a tab gives them: the file uses that separator."""
    if {text_columns.get(name, name) for name in header} >= _ALWAYS_REQUIRED:
        return None
    line = ",".join(header)
    for sep in _OTHER_SEPARATORS:
        names = [part.strip() for part in line.split(sep)]
        if len(names) > 1 and {text_columns.get(n, n) for n in names} >= _ALWAYS_REQUIRED:
            shown = ", ".join(quote(n) for n in names[:4]) + (", ..." if len(names) > 4 else "")
            return (
                f"looks like {sep!r}-separated (its header splits on {sep!r} into {shown}): "
                f"save it comma-separated, or read it with pandas.read_csv(path, sep={sep!r}) "
                "and pass the DataFrame (Python)"
            )
    return None


def _csv_header(path: Path, compression: str | None, encoding: str) -> list[str]:
    with _open_text(path, compression, encoding) as handle:
        first = next(csv.reader(handle), [])
    return [name.lstrip("\ufeff").strip() for name in first]


def _long_row(path: Path, compression: str | None, encoding: str) -> str | None:
    """The first line with a non-empty field beyond the header (read on the error path only)."""
    with _open_text(path, compression, encoding) as handle:
        rows = csv.reader(handle)
        width = len(next(rows, []))
        for line, fields in enumerate(rows, start=2):
            extra = [f for f in fields[width:] if f.strip()]
            if extra:
                saw, shown = len(fields), quote(extra[0])
                return f"line {line}: {saw} fields where the header has {width} (extra {shown})"
    return None  # only empty fields beyond the header: nothing is lost


def _text_columns(known: Iterable[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Source column name -> our name, for the known columns (read as text)."""
    names = {c: c for c in known}
    for orig, new in column_map.items():
        if new in names:
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
            raise table_error(source, f"{where}: not valid JSON ({exc.msg})") from None
    if isinstance(data, list):
        bad = next((i for i, row in enumerate(data) if not isinstance(row, dict)), None)
        if bad is not None:
            raise TableError(
                source,
                [Problem(bad + 1, None, data[bad], "not a JSON object (one object per row)")],
            )
        return pd.DataFrame.from_records(data)
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise table_error(source, "the column arrays of the JSON object differ in length")
        return pd.DataFrame(data)
    raise table_error(
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
                problems.append(Problem(number, None, NO_VALUE, why, "line"))
                continue
            if not isinstance(value, dict):
                why = "not a JSON object (one per line)"
                problems.append(Problem(number, None, value, why, "line"))
    if problems:
        raise TableError(source, problems)
    raise table_error(source, "not a valid jsonl file (each line must be one JSON object)")


def _undecodable(
    path: Path, compression: str | None, source: str, encoding: str, fmt: str
) -> TableError:
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
        return TableError(source, [Problem(line_number, None, NO_VALUE, advice, "line")])
    text = raw.decode(encoding, errors="surrogateescape")
    records = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    for number, record in enumerate(records):  # only on this error path
        for index, cell in enumerate(record):
            if not any("\udc80" <= ch <= "\udcff" for ch in cell):
                continue
            value = cell.encode(encoding, errors="surrogateescape")
            if number == 0:
                return TableError(
                    source, [Problem(None, None, NO_VALUE, f"the header: {quote(value)} {advice}")]
                )
            column = header[index] if index < len(header) else None
            return TableError(source, [Problem(number, column, value, advice)])
        if number == 0:
            header = record
    line_number = raw.count(b"\n", 0, start) + 1  # pragma: no cover - found above
    return TableError(source, [Problem(line_number, None, NO_VALUE, advice, "line")])


# --------------------------------------------------------------------------- parsing


class ProblemCollector:
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


def shape_problem(raw: pd.DataFrame, missing: Sequence[str], needs: str) -> str | None:
    """What is wrong with a table's shape before its values are read: the required
    ``missing`` columns (``needs`` says what the table needs), else no rows; None if
    neither. The loaders raise it as their own error."""
    if missing:
        # quoted: a stray NUL or line break in a name must show, not reach the terminal
        found = ", ".join(quote(str(c)) for c in raw.columns) or "none"
        return f"missing required column(s) {', '.join(missing)} (columns found: {found}; {needs})"
    if raw.empty:
        return "no rows (the file has a header but no data)"
    return None


def empty_columns(
    raw: pd.DataFrame,
    required: Iterable[str],
    optional: Iterable[str],
    shown: Mapping[str, str] | None = None,
) -> list[Problem]:
    """One problem per column of ``raw`` that is empty in every row (of two or more),
    instead of one per row: ``required`` columns need values, ``optional`` ones can be
    left out. ``shown``: the user's names of renamed columns."""
    if len(raw) < 2:
        return []  # one row: its own problem names the row
    names = dict(shown or {})
    ends = [(c, " (a required column)") for c in required]
    ends += [(c, "; leave the column out") for c in optional]
    return [
        Problem(None, None, NO_VALUE, f"column {quote(names.get(c, c))} is empty in every row{end}")
        for c, end in ends
        if c in raw.columns and bool(raw[c].isna().all())
    ]


def start_table(
    raw: pd.DataFrame, shown: Mapping[str, str] | None = None
) -> tuple[ProblemCollector, pd.DataFrame, pd.DataFrame]:
    """The start of a loader, once its shape is right: a :class:`ProblemCollector`, the
    table with a fresh 0-based index (``frame``), and the parsed table (``out``) holding
    the two columns every table has, ``timestamp`` and ``action``, parsed."""
    issues = ProblemCollector(shown)
    frame = raw.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)
    out["timestamp"] = parse_timestamps(frame["timestamp"], issues, frame)
    out["action"] = parse_names(frame["action"], issues, frame)
    return issues, frame, out


def carry_over_in_time_order(
    out: pd.DataFrame, frame: pd.DataFrame, skip: Iterable[str] = ()
) -> pd.DataFrame:
    """The end of a loader: ``out`` (the parsed columns) with every column of ``frame``
    (the table as read) that ``out`` lacks, but ``skip``, carried over as it is, then
    rows in time order (a stable sort on ``out["timestamp"]``: rows at one instant keep
    their order). A table already in time order, as most are, is returned uncopied.

    Once sorted, a row's place is no longer its row in the file, so ``attrs[FIRST_ROW]``
    keeps, per action, the 1-based file row of the action's first row in time order (for
    errors found after loading, e.g. an action the policy lacks)."""
    skipped = set(skip)
    for column in frame.columns:
        if column not in out.columns and column not in skipped:
            out[column] = frame[column].to_numpy()
    stamps = timestamps_ns(out["timestamp"])
    if len(stamps) < 2 or bool(np.all(stamps[1:] >= stamps[:-1])):
        out.attrs[FIRST_ROW] = _first_rows(out["action"], None)
        return out
    order = np.argsort(stamps, kind="stable")
    rows = _first_rows(out["action"], order)
    out = out.take(order).reset_index(drop=True)
    out.attrs[FIRST_ROW] = rows
    return out


#: ``attrs`` key of a loaded table: {action: 1-based file row of its first row in time}.
FIRST_ROW = "first_row"


def _first_rows(actions: pd.Series, order: np.ndarray | None) -> dict[str, int]:
    """Per action, the file row (1-based) of its first row in time order (``order``: the
    stable sort into time order; None when the rows already are in it)."""
    codes = actions.cat.codes.to_numpy()
    if order is not None:
        codes = codes[order]
    present, first = np.unique(codes, return_index=True)  # first: where each code starts
    rows = first if order is None else order[first]
    names = actions.cat.categories
    return {str(names[c]): int(r) + 1 for c, r in zip(present, rows, strict=True) if c >= 0}


def parse_timestamps(raw: pd.Series, issues: ProblemCollector, frame: pd.DataFrame) -> pd.Series:
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


def parse_bools(
    raw: pd.Series, column: str, issues: ProblemCollector, frame: pd.DataFrame, required: bool
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


def parse_names(
    raw: pd.Series, issues: ProblemCollector, frame: pd.DataFrame, column: str = "action"
) -> pd.Series:
    """A required name column (e.g. ``action``) as categories; missing or blank is a problem."""
    missing = raw.isna().to_numpy()
    names = categories(raw)
    # Blank is a property of a name, not of a row: test each distinct name once (the
    # rows as text would be a string per row, gigabytes for ten million rows).
    blank = np.array([str(c).strip() == "" for c in names.cat.categories], dtype=bool)
    codes = names.cat.codes.to_numpy()
    empty = np.zeros(len(codes), dtype=bool)
    if len(blank):
        empty = ~missing & (codes >= 0) & blank[np.maximum(codes, 0)]
    issues.add_rows(frame, missing, column, "missing value in a required field")
    issues.add_rows(frame, empty, column, f"empty {column} name")
    return names


def categories(raw: pd.Series) -> pd.Series:
    """Text as a categorical column of its distinct values, sorted (NaN stays missing)."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        present = raw.cat.remove_unused_categories()
        text = present.cat.rename_categories([str(c) for c in present.cat.categories])
        return text.cat.reorder_categories(sorted(text.cat.categories))
    missing = raw.isna()
    text = raw.where(missing, raw.astype(str))
    return text.astype(pd.CategoricalDtype(sorted(text[~missing].unique())))


def read_table(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    known_columns: Iterable[str],
    column_map: Mapping[str, str] | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
    what: str = "history",
) -> tuple[pd.DataFrame, str, dict[str, str]]:
    """Read ``source`` (a DataFrame or a file) into a raw frame with its columns renamed.

    Returns (frame, source name, {our column name: the user's name} for renamed
    columns). ``known_columns`` are read from CSV as text, so problems quote
    values as written. ``column_map`` renames ``{"theirs": "ours"}``; every column
    it names must exist, and no two columns may end up with one name.
    """
    column_map = dict(column_map or {})
    if isinstance(source, pd.DataFrame):
        name = "<DataFrame>"
        raw = source.copy()
    else:
        path = Path(source)
        name = str(path)
        if what == "history" and format is None and path.is_dir():
            # A folder has no suffix to go by; the only folders read are tools' logs.
            raise table_error(
                name,
                "is a folder, not a history file: a folder is read as Inspect or promptfoo "
                "logs, with --format inspect|promptfoo (format= in Python)",
            )
        fmt, compression = table_format(path, format, name)
        text_columns = _text_columns(known_columns, column_map)
        raw = _read_file(path, fmt, compression, text_columns, name, encoding, what)
    raw.columns = [str(c) for c in raw.columns]
    absent = [old for old in column_map if old not in raw.columns]
    if absent:
        found = ", ".join(repr(c) for c in raw.columns) or "none"
        raise table_error(
            name,
            f"the column mapping (--column / column_map) names column(s) the file lacks: "
            f"{', '.join(map(repr, absent))} "
            f"(columns found: {found})",
        )
    raw = raw.rename(columns=column_map)
    duplicated = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
    if duplicated:
        raise table_error(
            name,
            f"two columns would be called {', '.join(map(repr, duplicated))} after renaming "
            "(--column / column_map): rename only one of them",
        )
    return raw, name, {new: old for old, new in column_map.items()}
