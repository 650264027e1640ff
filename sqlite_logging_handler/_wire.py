"""What travels between the application and its writer process, and how.

Messages are tuples, pickled (protocol 5) and framed by an 8-byte length, written
and read with ``os.write``/``os.read`` on raw pipe descriptors (no buffered file
objects: a forked child of the application must be able to let go of them without
flushing anything twice).

Records travel as *entries* (``_records.log_entry``/``metric_entry``): the row, with
plain extras left as a dict for the writer to encode. Only values that come back from
pickling unchanged and need nothing of the application's modules may travel: the
pickler refuses anything but the built-in types (``reducer_override`` is only asked
about other objects), and a chunk holding one is made plain here first
(``plain_entry``), exactly as the writer would have stored it.

Rows are numbered per table, in the order the listener sends them, for the life of a
handler's pipeline (its *session*); a writer process commits the numbers it has
written in the same transaction as the rows (``_sessions``), so a new writer process
can skip what a dead one had already committed.
"""

from __future__ import annotations

import io
import os
import pickle
import sqlite3
import struct
from typing import Any

from ._json import safe_repr
from ._records import (
    LOG_EXTRA_INDEX,
    METRIC_TAGS_INDEX,
    Row,
    finish_row,
    is_metric,
    log_entry,
    metric_entry,
)

__all__ = [
    "CALL",
    "CLOSE",
    "ENDED",
    "FLUSH",
    "FLUSHED",
    "GIVING_UP",
    "HELLO",
    "READY",
    "REPORT",
    "RESULT",
    "ROWS",
    "SETTLED",
    "Entries",
    "FrameReader",
    "Unbindable",
    "capture",
    "finish_entries",
    "frame",
    "plain_entry",
    "rows_message",
]

# Application -> writer process.
HELLO = 1  # (HELLO, spec, session, resuming: whether an earlier writer process died)
ROWS = 2  # (ROWS, first log number, first metric number, log entries, metric entries)
FLUSH = 3  # (FLUSH, token)
CALL = 4  # (CALL, token, function, args); function None: the whole upkeep
CLOSE = 5  # (CLOSE, time.time() at which the handler's close() gives up), before end of file
# Writer process -> application.
READY = 11  # (READY, pid)
SETTLED = 12  # (SETTLED, logs settled, metrics settled, written, failed, batches,
#               last_commit, id ranges, restarts)
FLUSHED = 13  # (FLUSHED, token)
RESULT = 14  # (RESULT, token, ok, value or exception)
REPORT = 15  # (REPORT, a line for the application's stderr)
ENDED = 16  # (ENDED, cause): input ended and all is settled; why close() gave up, or None
GIVING_UP = 17  # (GIVING_UP, cause): close()'s deadline came with rows unwritten; why

_LENGTH = struct.Struct("!Q")
#: Bytes one ``os.read`` asks for.
READ_SIZE = 1 << 20

Entries = list[Row]

_WIRE_TYPES = frozenset({type(None), bool, int, float, str, bytes})


class _NotPlainError(Exception):
    """The pickler met an object that is not of a built-in type."""


class _PlainPickler(pickle.Pickler):
    """Pickles built-in values only; raises ``_NotPlainError`` at anything else."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Unbindable:
            return (Unbindable, (obj.text,))
        if obj is Unbindable:
            return NotImplemented  # the class itself, pickled by reference
        raise _NotPlainError(type(obj).__name__)


def frame(message: tuple[Any, ...]) -> bytes:
    """``message`` pickled with its length in front; ``_NotPlainError`` for odd values."""
    buffer = io.BytesIO()
    buffer.write(bytes(_LENGTH.size))
    _PlainPickler(buffer, protocol=5).dump(message)
    data = buffer.getbuffer()
    _LENGTH.pack_into(data, 0, len(data) - _LENGTH.size)
    del data
    return buffer.getvalue()


def any_frame(message: tuple[Any, ...]) -> bytes:
    """``message`` pickled as pickle does (functions by reference, exceptions, ...)."""
    payload = pickle.dumps(message, protocol=5)
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Reads whole messages from a pipe descriptor (blocking reads, no buffering beyond).

    ``read()`` returns the next message, or None at end of file (a partial last
    frame, written by a process that died mid-write, counts as end of file).
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._start = 0

    def read(self) -> Any:
        """The next message; None once the other end has closed the pipe."""
        start = self._next_frame()
        if start is None:
            return None
        with memoryview(self._buffer) as view, view[start : self._start] as payload:
            return pickle.loads(payload)

    def read_payload(self) -> bytes | None:
        """The next message still pickled (``pickle.loads`` makes it); None at end of file."""
        start = self._next_frame()
        return None if start is None else bytes(self._buffer[start : self._start])

    def _next_frame(self) -> int | None:
        """Buffer the next whole frame; where its payload starts (it ends at ``_start``)."""
        if not self._fill(_LENGTH.size):
            return None
        (size,) = _LENGTH.unpack_from(self._buffer, self._start)
        if not self._fill(_LENGTH.size + size):
            return None
        start = self._start + _LENGTH.size
        self._start = start + size
        return start

    def _fill(self, size: int) -> bool:
        """Read until ``size`` unread bytes are buffered; False at end of file."""
        buffer = self._buffer
        while len(buffer) - self._start < size:
            if self._start:  # keep the buffer from growing with what was read
                del buffer[: self._start]
                self._start = 0
            chunk = os.read(self._fd, max(READ_SIZE, size - len(buffer)))
            if not chunk:
                return False
            buffer += chunk
        return True


def capture(items: list[tuple[Any, ...]]) -> tuple[Entries, Entries, list[str]]:
    """Entries of the queued records (listener thread), and why any record failed."""
    logs: Entries = []
    metrics: Entries = []
    failures: list[str] = []
    add_log, add_metric = logs.append, metrics.append
    for item in items:
        try:
            if is_metric(item[0]):
                add_metric(metric_entry(item[0]))
            else:
                add_log(log_entry(*item))
        except BaseException as exc:  # an extra's __repr__ that exits, say
            failures.append(f"{type(exc).__name__}: {exc}")
    return logs, metrics, failures


def rows_message(first_log: int, first_metric: int, logs: Entries, metrics: Entries) -> bytes:
    """The framed ``ROWS`` message; values that cannot travel as they are made plain."""
    try:
        return frame((ROWS, first_log, first_metric, logs, metrics))
    except BaseException:  # _NotPlainError, a value pickle cannot take (recursion, ...)
        logs = [plain_entry(entry, LOG_EXTRA_INDEX) for entry in logs]
        metrics = [plain_entry(entry, METRIC_TAGS_INDEX) for entry in metrics]
        return frame((ROWS, first_log, first_metric, logs, metrics))


def finish_entries(logs: Entries, metrics: Entries) -> tuple[list[Row], list[Row]]:
    """The rows of received entries (the writer's side of ``capture``)."""
    return (
        [finish_row(entry, LOG_EXTRA_INDEX) for entry in logs],
        [finish_row(entry, METRIC_TAGS_INDEX) for entry in metrics],
    )


class Unbindable:
    """Stands for a value sqlite3 cannot bind: binding fails, as the original's would.

    The writer then stores ``repr()`` of the value (``_records.sanitize_row``), which
    is the original's ``repr()``, taken here.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def plain_entry(entry: Row, extras_index: int) -> Row:
    """``entry`` with every value the writer would bind as it would bind it.

    Extras are encoded now. Other values keep what sqlite3 would make of them:
    registered adapters are applied, subclasses of int/float/str become their base
    type, buffers bytes; anything else becomes an ``Unbindable`` with its ``repr()``.
    """
    finished = finish_row(entry, extras_index)
    return tuple(_plain(value) for value in finished)


def _plain(value: Any) -> Any:
    if type(value) in _WIRE_TYPES:
        return value
    try:
        adapted = sqlite3.adapt(value, sqlite3.PrepareProtocol, value)
    except Exception:
        adapted = value
    if type(adapted) in _WIRE_TYPES:
        return adapted
    # What sqlite3 binds for a subclass: its value, whatever __int__ or __str__ say.
    if isinstance(adapted, int):
        return int.__int__(adapted)
    if isinstance(adapted, float):
        return float.__float__(adapted)
    if isinstance(adapted, str):
        return str.__str__(adapted)
    try:
        return bytes(memoryview(adapted))
    except TypeError:
        return Unbindable(safe_repr(value))
