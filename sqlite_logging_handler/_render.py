"""Text renderings of rows for the command line: lines, tables, JSON, CSV, sparklines.

Human-readable renderings (lines, tables) show stored text through
``_terminal.visible``: one record is one line, and nothing stored can drive the
terminal; times are shown with their zone (``_times.format_time``). JSON and CSV carry
the exact stored values.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from ._rows import log_row, metric_row
from ._terminal import visible
from ._text import readable_json_text
from ._times import format_time, stored_epoch
from ._words import number
from .query import LogRow, MetricRow

__all__ = [
    "MISSING",
    "StoredJSON",
    "log_line",
    "shown",
    "shown_thread",
    "shown_time",
    "sparkline",
    "stored_log_row",
    "stored_metric_row",
    "table",
    "visible",
    "write_csv",
    "write_json_array",
    "write_json_lines",
]

# By severity, so that custom levels get the colour of their neighbours.
_COLOURS = (
    (50, "\033[1;31m"),  # CRITICAL and above: bold red
    (40, "\033[31m"),  # ERROR: red
    (30, "\033[33m"),  # WARNING: yellow
    (20, ""),  # INFO: the terminal's own colour
    (-(2**63), "\033[2m"),  # DEBUG and below: dim
)
_RESET = "\033[0m"
#: How every human-readable rendering (lines, tables) shows a field without a value
#: (NULL: a seed row has no thread name; a row written by hand may lack more).
MISSING = "-"
_BARS = "▁▂▃▄▅▆▇█"


def shown(value: object) -> str:
    """A stored value for people: ``MISSING`` for none, else through ``visible()``."""
    return MISSING if value is None else visible(value)


def shown_thread(name: object, ident: object) -> str:
    """A row's thread: its name, else its id (a seed row has only the id), else ``MISSING``."""
    return shown(ident if name is None else name)


def shown_time(created: float | None, timestamp: object, *, utc: bool = False) -> str:
    """A row's time, with its zone: from ``created``, else from the stored text."""
    if created is None and timestamp is None:
        return MISSING
    try:
        epoch = created if isinstance(created, int | float) else stored_epoch(str(timestamp))
        return format_time(epoch, utc=utc)
    except (ValueError, OverflowError, OSError):  # not a time: show what is stored
        return visible(timestamp)


def log_line(row: LogRow, colour: bool = False, *, utc: bool = False) -> str:
    """One human-readable line for a log row, then its traceback and stack, indented.

    Every field is shown through ``visible()``: a record's own text never starts a
    line; only the traceback's and the stack's line breaks do, indented by four spaces.
    A field without a value is ``MISSING``; the thread is its id if it has no name.
    """
    text = " ".join(
        (
            shown_time(row.created, row.timestamp, utc=utc),
            f"{shown(row.level):<8}",
            shown(row.module),
            f"[{shown_thread(row.thread_name, row.thread_id)}]",
            shown(row.message),
        )
    )
    for block in (row.exc_text, row.stack_info):
        if block:
            text += "".join(
                f"\n    {visible(line)}" for line in str(block).rstrip("\n").split("\n")
            )
    code = _colour(row.levelno) if colour else ""
    return f"{code}{text}{_RESET}" if code else text


def _colour(levelno: object) -> str:
    if not isinstance(levelno, int | float):
        return ""
    return next(code for floor, code in _COLOURS if levelno >= floor)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Iterable[int] = ()
) -> str:
    """A plain text table with aligned columns (those in ``right`` aligned right)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    rightward = set(right)

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if index in rightward else value.ljust(width)
            for index, (value, width) in enumerate(zip(values, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, cells)])


def _cell(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return number(value)  # as every number a person reads: 1,234,568, not 1.23457e+06
    if isinstance(value, dict | list):
        return visible(json.dumps(value, ensure_ascii=False))
    return visible(value)


def write_json_lines(rows: Iterable[tuple[Any, ...]], out: TextIO) -> int:
    """Each row as one JSON object (its column names as keys); returns how many."""
    count = 0
    for row in rows:
        out.write(_json(row) + "\n")
        count += 1
    return count


def write_json_array(rows: Iterable[tuple[Any, ...]], out: TextIO) -> int:
    """The rows as one JSON array of objects, written as it goes; returns how many."""
    count = 0
    out.write("[")
    for row in rows:
        out.write(("," if count else "") + "\n" + _json(row))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


class StoredJSON(str):
    """A JSON column's text as stored (``extra_data``, ``tags``), to be written as it is.

    CSV writes it as any text; JSON output splices it in as the value when it is JSON
    (so ``{"user_id": 7}`` stays an object, with its keys, spacing and numbers as
    stored; re-encoded only where a string in it would decode to a lone surrogate, as
    ``_text.readable_json_text`` does for every reader), else writes it as a string.
    """

    __slots__ = ()


def stored_log_row(row: Any) -> LogRow:
    """A ``LogRow`` whose ``extra_data`` is its stored text (``StoredJSON``), not decoded."""
    built = log_row(row)
    text = row[6]
    return built._replace(extra_data=StoredJSON(text)) if isinstance(text, str) else built  # type: ignore[arg-type]


def stored_metric_row(row: Any) -> MetricRow:
    """A ``MetricRow`` whose ``tags`` are their stored text (``StoredJSON``), not decoded."""
    built = metric_row(row)
    text = row[5]
    return built._replace(tags=StoredJSON(text)) if isinstance(text, str) else built  # type: ignore[arg-type]


def _json(row: tuple[Any, ...]) -> str:
    fields = row._asdict()  # type: ignore[attr-defined]
    return (
        "{"
        + ", ".join(f"{json.dumps(key)}: {_json_value(value)}" for key, value in fields.items())
        + "}"
    )


def _json_value(value: Any) -> str:
    if isinstance(value, StoredJSON):
        try:
            json.loads(value)
        except ValueError:  # not JSON (a row written by hand): its text as a string
            pass
        else:  # as stored, unless a string in it decodes to a lone surrogate
            return readable_json_text(str(value))
    return json.dumps(value, ensure_ascii=False, default=repr)


def write_csv(rows: Iterable[tuple[Any, ...]], fields: Sequence[str], out: TextIO) -> int:
    """CSV with a header row; JSON columns as JSON text (stored text as it is); returns how many."""
    writer = csv.writer(out)
    writer.writerow(fields)
    count = 0
    for row in rows:
        writer.writerow(
            json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v for v in row
        )
        count += 1
    return count


def sparkline(values: Sequence[float | None]) -> str:
    """One block character per value, scaled between the smallest and largest (gaps as ' ')."""
    present = [v for v in values if v is not None]
    if not present:
        return ""
    low, high = min(present), max(present)
    span = (high - low) or 1.0
    return "".join(
        " " if v is None else _BARS[min(len(_BARS) - 1, int((v - low) / span * len(_BARS)))]
        for v in values
    )
