r"""Reading stored text whatever bytes it holds: no stored value makes a reader fail.

``sqlite3`` decodes TEXT as strict UTF-8 and raises ``OperationalError("Could not
decode to UTF-8 ...")`` otherwise. A database written by other tools can hold such
text, and so can what SQL computes from valid data: ``json_extract`` of the JSON
escape of a lone surrogate (``"\ud83d"``) returns the three bytes SQLite encodes a
surrogate as, which no UTF-8 decoder takes.

Readers run their queries with ``sqlite3``'s own, fast, decoding and only when a value
cannot be decoded run the query again with ``readable_text``: valid UTF-8 as it is, an
encoded surrogate as ``\udXXX``, any other byte as ``\xNN``: the text form of Python's
``backslashreplace``, which is how the handler stores text UTF-8 cannot hold.
``readable_json`` does the same for a JSON column whose escapes decode to surrogates.
"""

from __future__ import annotations

import codecs
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._json import without_surrogates

__all__ = [
    "fetch_all",
    "has_surrogate_escape",
    "iterate",
    "readable_json",
    "readable_json_text",
    "readable_text",
    "stream",
]

_ERRORS = "sqlite_logging_handler.readable"
# A JSON escape of a surrogate (or an escaped backslash before "ud8": checked anyway).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_FETCH = 1000  # rows per fetchmany() while iterating


def _backslash_escapes(exc: UnicodeError) -> tuple[str, int]:
    r"""The codec error handler: a surrogate SQLite encoded as ``\udXXX``, a byte as ``\xNN``."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    data, start = exc.object, exc.start
    encoded = bytes(data[start : start + 3])
    if len(encoded) == 3 and encoded[0] == 0xED and 0xA0 <= encoded[1] <= 0xBF:
        try:
            return f"\\u{ord(encoded.decode('utf-8', 'surrogatepass')):04x}", start + 3
        except UnicodeDecodeError:
            pass  # not a whole encoded surrogate: byte by byte
    return f"\\x{data[start]:02x}", start + 1


codecs.register_error(_ERRORS, _backslash_escapes)


def readable_text(data: bytes) -> str:
    r"""Stored bytes as text: UTF-8, a surrogate as ``\udXXX``, another byte as ``\xNN``."""
    return data.decode("utf-8", _ERRORS)


def readable_json(text: str | None) -> Any:
    """A JSON column decoded; its own text if it is not JSON; None for NULL.

    Strings in it never hold a lone surrogate (``_json.without_surrogates``).
    """
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return without_surrogates(value) if has_surrogate_escape(text) else value


def has_surrogate_escape(text: str) -> bool:
    r"""Whether JSON ``text`` may hold a ``\udXXX`` escape (decoding to a surrogate)."""
    return "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None


def readable_json_text(text: str) -> str:
    """JSON ``text`` as it is, or re-encoded if its strings decode to lone surrogates."""
    if not has_surrogate_escape(text):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps(without_surrogates(value), ensure_ascii=False, separators=(",", ":"))


def _undecodable(exc: sqlite3.OperationalError) -> bool:
    return "decode to UTF-8" in str(exc)


def fetch_all(
    conn: sqlite3.Connection, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()
) -> tuple[list[Any], Any]:
    """Run a read-only ``sql``: its rows and its cursor's ``description``.

    A value that is not UTF-8 makes it run again with ``readable_text``.
    """
    try:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall(), cursor.description
    except sqlite3.OperationalError as exc:
        if not _undecodable(exc):
            raise
    previous, conn.text_factory = conn.text_factory, readable_text
    try:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall(), cursor.description
    finally:
        conn.text_factory = previous


def iterate(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> Iterator[Any]:
    """The rows of a read-only ``sql``, fetched a thousand at a time, in one snapshot.

    ``conn`` is the caller's own autocommit connection: the query runs in a read
    transaction, so that when a value is not UTF-8 the query runs again on the same
    rows with ``readable_text`` and goes on after those already yielded.
    """
    conn.execute("BEGIN")
    try:
        yield from stream(conn, sql, params)
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def stream(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> Iterator[Any]:
    """``iterate``'s rows, in a read transaction ``conn`` is already in (the caller's).

    A value that is not UTF-8 makes the query run again with ``readable_text`` (the
    same rows: the transaction holds one snapshot), going on after those yielded.
    """
    values = list(params)
    previous = conn.text_factory
    try:
        yielded = 0
        cursor = conn.execute(sql, values)
        while True:
            try:
                rows = cursor.fetchmany(_FETCH)
            except sqlite3.OperationalError as exc:
                if not _undecodable(exc) or conn.text_factory is readable_text:
                    raise
                conn.text_factory = readable_text
                cursor = conn.execute(sql, values)
                _skip(cursor, yielded)
                continue
            if not rows:
                return
            yielded += len(rows)
            yield from rows
    finally:
        conn.text_factory = previous


def _skip(cursor: sqlite3.Cursor, count: int) -> None:
    while count > 0:
        skipped = len(cursor.fetchmany(min(count, _FETCH)))
        if not skipped:
            return
        count -= skipped
