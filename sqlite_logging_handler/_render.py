"""Text renderings of rows for the command line: lines, tables, JSON lines, CSV, sparklines.

Human-readable renderings (lines, tables) show stored text through
``_terminal.visible``: one record is one line, and nothing stored can drive the
terminal. JSON lines and CSV carry the exact stored text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from ._terminal import visible
from .query import LogRow

__all__ = ["log_line", "sparkline", "table", "visible", "write_csv", "write_json_lines"]

_COLOURS = {
    "DEBUG": "\033[2m",  # dim
    "WARNING": "\033[33m",  # yellow
    "ERROR": "\033[31m",  # red
    "CRITICAL": "\033[1;31m",  # bold red
}
_RESET = "\033[0m"
_BARS = "▁▂▃▄▅▆▇█"


def log_line(row: LogRow, colour: bool = False) -> str:
    """One human-readable line for a log row, then its traceback and stack, indented.

    Every field is shown through ``visible()``: a record's own text never starts a
    line; only the traceback's and the stack's line breaks do, indented by four spaces.
    """
    text = " ".join(
        (
            visible(row.timestamp),
            f"{visible(row.level):<8}",
            visible(row.module),
            f"[{visible(row.thread_name)}]",
            visible(row.message),
        )
    )
    for block in (row.exc_text, row.stack_info):
        if block:
            text += "".join(
                f"\n    {visible(line)}" for line in str(block).rstrip("\n").split("\n")
            )
    code = _COLOURS.get(row.level) if colour else None
    return f"{code}{text}{_RESET}" if code else text


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain text table with aligned columns."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list):
        return visible(json.dumps(value, ensure_ascii=False))
    return visible(value)


def write_json_lines(rows: Iterable[tuple[Any, ...]], out: TextIO) -> int:
    """Each row as one JSON object (its column names as keys); returns how many."""
    count = 0
    for row in rows:
        record = row._asdict()  # type: ignore[attr-defined]
        out.write(json.dumps(record, ensure_ascii=False, default=repr) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[tuple[Any, ...]], fields: Sequence[str], out: TextIO) -> int:
    """CSV with a header row; JSON columns as JSON text; returns how many rows."""
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
