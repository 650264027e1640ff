"""Shipper: a log database's committed rows to one destination, at least once, resumably.

The loop, per table: read the rows after the cursor (committed rows only, one short
read transaction), send them, and only once the destination acknowledged them move the
cursor, in the log database itself. Killed at any moment, a shipper started again sends
every row not acknowledged, and skips none. When it has caught up it sleeps until the
next commit (``_wakeup``), so it costs nothing while the application is quiet.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import schema
from ..exceptions import SQLiteLoggingError
from ._lock import DestinationLock
from ._parts import Acknowledged, PartSender
from ._readahead import ReadAhead
from ._retry import Retrier, StopRequestedError
from ._wakeup import ChangeWaiter
from .cursors import CursorStore, cursor_status, open_log_database, read_cursors
from .destination import Delivery, Destination, SourceInfo, destination_for, resource_attributes
from .errors import ShippingError, ShippingStoppedError, one_line
from .source import TABLES, Batch, Row, RowSource

__all__ = ["Progress", "Shipper"]

_log = logging.getLogger(__name__)  # ignored by SQLiteHandler: never shipped into itself
#: Seconds between checks for new rows while idle, beyond the change notifications
#: (a safety net for file systems that do not report changes, such as NFS).
IDLE_RECHECK = 30.0
#: Seconds waited after a commit wakes an idle shipper, so that the commits of a busy
#: application (a few a second per handler) go out together rather than one request each.
LINGER = 0.2
ON_REJECTED = ("skip", "stop", "skip-all")
_ROW = {"logs": "log", "metrics": "metric"}  # "log row 12", "500 metric rows"


@dataclass
class Progress:
    """Where a shipper is: counts since it started, and about how many rows are behind."""

    shipped: int
    pruned: int
    rejected: int
    behind: int
    seconds: float


class Shipper:
    """Ships the rows of a log database to ``destination``, following the live writer.

    Args:
        database: path of a log database written by SQLiteHandler (upgraded to the current
            schema if older; never created).
        destination: a URL (``http(s)://collector:4318`` for OTLP/HTTP,
            ``postgresql://user@host/db``) or a destination object (``OTLPDestination``,
            ``PostgresDestination``) for more options.
        service_name: the ``service.name`` resource attribute (default:
            ``$OTEL_SERVICE_NAME``, else ``unknown_service``).
        resource: more resource attributes (``{"deployment.environment": "prod"}``).
        batch_size: most rows per request (default: the destination's ``batch_size``,
            1000 for OTLP, 5000 for PostgreSQL; OTLP requests are also split by size).
        on_rejected: what to do with rows the destination refuses as data (HTTP 400):
            ``"skip"`` them (counted, reported) or ``"stop"`` before them. With
            ``"skip"``, a destination refusing every row of a kind (logs, metrics: the
            first, if it never accepted one of that kind from this database; else 10
            in a row, none of that kind accepted) stops the shipper before them;
            ``"skip-all"`` skips those too (for rows known to be at fault).
        retry_for: seconds to keep retrying an unavailable destination before stopping
            (0: stop at the first failure; None or ``math.inf``: forever; the rows wait
            safely in the database meanwhile).
        name: the name the cursor is stored under (default: the destination's URL
            without credentials); give one to keep a cursor when the URL changes.
        on_progress: called with a ``Progress`` after each batch.
        report: called with each warning line (default: the ``logging`` logger
            ``sqlite_logging_handler.shipping.shipper``, which SQLiteHandler ignores).
        poll_interval: seconds between checks for new rows where the kernel cannot
            signal commits (not Linux).

    One shipper per destination: a second one for the same database and cursor name
    (in this process or another) is refused while the first runs (a lock file beside
    the database's directory, ``.<database name>.ship-<hash>.lock``, removed at ``close()``;
    not matched by ``rm app.db*``).

    Raises:
        FileNotFoundError: the database does not exist.
        ShippingError: another shipper is shipping this database to this destination.
        SQLiteLoggingError: it is not a log database, or cannot be written (the cursor
            lives in it).
        ValueError: a bad option or destination URL.
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        destination: str | Destination,
        *,
        service_name: str | None = None,
        resource: Mapping[str, str] | None = None,
        batch_size: int | None = None,
        on_rejected: str = "skip",
        retry_for: float | None = None,
        name: str | None = None,
        on_progress: Callable[[Progress], object] | None = None,
        report: Callable[[str], object] | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        if batch_size is not None:
            _check_rows(batch_size)
        if on_rejected not in ON_REJECTED:
            msg = f"on_rejected must be one of {ON_REJECTED}, not {on_rejected!r}"
            raise ValueError(msg)
        if retry_for is not None and not retry_for >= 0:
            msg = f"retry_for must be a number of seconds (0 or more) or None, not {retry_for!r}"
            raise ValueError(msg)
        self.destination = (
            destination_for(destination) if isinstance(destination, str) else destination
        )
        self.database = os.fspath(database)
        preferred = getattr(self.destination, "batch_size", 1000)
        self.batch_size: int = batch_size if batch_size is not None else int(preferred)
        self.on_rejected = on_rejected
        self.retry_for = None if retry_for is not None and math.isinf(retry_for) else retry_for
        self._on_progress = on_progress
        self._report_line = report or _log.warning
        self._source = RowSource(self.database)
        self._ahead = ReadAhead(self.database)
        conn = open_log_database(self.database)
        lock = None
        try:
            lock = DestinationLock(self.database, name or self.destination.key)
            instance = schema.instance_id(conn) or ""
            self._cursors = CursorStore(conn, name or self.destination.key)
            self._waiter = ChangeWaiter(self.database, poll_interval)
        except BaseException:
            conn.close()
            if lock is not None:
                lock.release()
            raise
        self._lock = lock
        self._identity = file_identity(self.database)
        self._wal = file_identity(_wal_of(self.database))  # held open while connected
        self._detached = False  # the old file's connections closed, the new one not open
        self._resource_options = (service_name, resource)
        self.info = SourceInfo(
            self.database, instance, resource_attributes(instance, service_name, resource)
        )
        self._waiting_for: str | None = None  # why a replaced database is not followed yet
        self._closed = False
        self._stopping = False
        self._opened = False
        self._retrier = Retrier(
            self.destination.key,
            self._cursors,
            self._waiter,
            self._report,
            self.retry_for,
            lambda: self._stopping,
        )
        self._parts = PartSender(
            self._send, self._acknowledge, on_rejected, self.destination.key, self._accepted
        )
        self._started = time.monotonic()
        self._counts = {
            t: {"shipped": 0, "pruned": 0, "rejected": 0, "duplicates": 0} for t in TABLES
        }

    # -- public -------------------------------------------------------------------------

    def run(self) -> dict[str, dict[str, int]]:
        """Ship until ``stop()``: everything committed, then each new commit as it comes.

        Like ``tail -F``, it notices the database being replaced (deleted and created
        again, or renamed over): once the old file's committed rows are shipped, it says
        so and follows the new file, from that file's own cursor (a new instance id).

        Returns:
            What was done, as ``run_once()`` returns it.

        Raises:
            ShippingStoppedError: the destination refused permanently, ``retry_for`` ran out,
                or a row was rejected with ``on_rejected="stop"``.
        """
        self._check_open()
        try:
            while not self._stopping:
                if self._round() or self._follow_replacement():
                    continue
                self._waiter.wait(IDLE_RECHECK)
                # Let the commits of the next moment join this one's in one request.
                self._waiter.pause(LINGER)
        except StopRequestedError:
            pass
        finally:
            self.close()
        return self.totals()

    def run_once(self) -> dict[str, dict[str, int]]:
        """Ship every row committed when called, then return (a catch-up run).

        Returns:
            Per table (``"logs"``, ``"metrics"``): rows ``shipped``, ``pruned`` (deleted
            before they were shipped), ``rejected`` and ``duplicates`` (already there).

        Raises:
            ShippingStoppedError: as ``run()``.
        """
        self._check_open()
        try:
            upto = {table: self._source.top(table) for table in TABLES}
            while not self._stopping and self._round(upto):
                pass
        except StopRequestedError:
            pass
        finally:
            self.close()
        return self.totals()

    def totals(self) -> dict[str, dict[str, int]]:
        """Per table: rows ``shipped``, ``pruned``, ``rejected`` and ``duplicates`` so far."""
        return {table: dict(counts) for table, counts in self._counts.items()}

    def stop(self) -> None:
        """Ask ``run()``/``run_once()`` to return soon; safe from any thread or a signal handler.

        A batch in flight is not acknowledged: it is sent again next time.
        """
        self._stopping = True
        self._waiter.wake()

    def status(self) -> dict[str, Any]:
        """The destination's cursor, counts, last success and error, and rows behind.

        Reads the database afresh (also after ``run()`` has returned).
        """
        source = RowSource(self.database)
        try:
            (cursor,) = read_cursors(source.connection(), self._cursors.destination)
            return cursor_status(cursor, source)
        finally:
            source.close()

    def close(self) -> None:
        """Close the database connections and the destination. Idempotent.

        ``run()`` and ``run_once()`` close the shipper when they return: a shipper runs
        once (make another to ship again; it resumes from the cursor).
        """
        self._closed = True
        self._ahead.close()
        self.destination.close()
        self._source.close()
        self._cursors.close()
        self._waiter.close()
        self._lock.release()

    # -- the loop ----------------------------------------------------------------------

    def _renamed_over(self) -> bool:
        """Whether another file now has the path while our WAL still has its name.

        (``mv new.db app.db``, or ``rm app.db`` alone.) Anyone opening the path then pairs
        the new file with the old file's WAL, which SQLite reads as the new file's pages:
        a corrupt database. The old file's connections must go at once (``_detach``).
        """
        if self._detached or file_identity(self.database) == self._identity:
            return False
        return self._wal is not None and file_identity(_wal_of(self.database)) == self._wal

    def _detach(self, why: str | None) -> None:
        """Close every connection to the old file, its WAL emptied first, if it is moved.

        The checkpoint writes the old WAL into the old file (through the connection's own
        descriptors) and truncates it, so that the WAL left at the path holds nothing a
        new file could be paired with; SQLite itself neither checkpoints nor removes the
        WAL of a moved database when its last connection closes.
        """
        if self._detached:
            return
        self._detached = True
        behind = 0
        if why is not None:
            with contextlib.suppress(Exception):
                cursor = self._cursors.load()
                behind = sum(self._source.behind(t, cursor.position(t)) for t in TABLES)
        for old in (self._ahead, self._source):
            with contextlib.suppress(Exception):
                old.close()
        self._cursors.close(empty_wal=why is not None)
        if why is not None:
            self._report(
                f"{self.database} was {why} while the shipper read it: its connections to the "
                f"old file are closed at once (opening the path meanwhile would pair the new "
                f"file with the old file's WAL); {behind:,} rows of the old file not shipped"
            )

    def _follow_replacement(self) -> bool:
        """Switch to a new file at the database's path, if there is one; whether it did."""
        identity = file_identity(self.database)
        if identity == self._identity:
            return False
        if self._renamed_over():
            self._detach("replaced")
        try:
            if identity is None:
                raise FileNotFoundError(self.database)
            self._detach(None)  # caught up with the old file: never open the path while in it
            conn = open_log_database(self.database)
        except (OSError, SQLiteLoggingError) as exc:
            why = "it is gone" if identity is None else f"not a log database yet: {exc}"
            if why != self._waiting_for:
                self._waiting_for = why
                self._report(f"{self.database} was replaced ({why}); waiting for the new one")
            return False
        try:
            instance = schema.instance_id(conn) or ""
            cursors = CursorStore(conn, self._cursors.destination)
        except BaseException:
            conn.close()
            raise
        self._source, self._ahead = RowSource(self.database), ReadAhead(self.database)
        self._cursors = self._retrier.cursors = cursors
        self._wal, self._detached = file_identity(_wal_of(self.database)), False
        previous, self._identity, self._waiting_for = self.info.instance_id, identity, None
        attributes = resource_attributes(instance, *self._resource_options)
        self.info = SourceInfo(self.database, instance, attributes)
        self._opened = False  # the destination learns the new instance before sending
        cursor = cursors.load()
        self._report(
            f"{self.database} was replaced by a new database (instance {instance}, was "
            f"{previous}): following it from log row {cursor.log_id}, metric row "
            f"{cursor.metric_id}"
        )
        return True

    def _check_open(self) -> None:
        if self._closed:
            msg = "this Shipper has run and is closed; make a new one (it resumes from the cursor)"
            raise ShippingError(msg)

    def _round(self, upto: Mapping[str, int] | None = None) -> bool:
        """One batch of each table; whether anything moved."""
        if self._renamed_over():
            self._detach("replaced")
        if self._detached:
            return False
        if not self._opened:
            self._retrier.run(lambda: self.destination.open(self.info))
            self._opened = True
        moved = False
        cursor = self._cursors.load()
        for table in TABLES:
            after = cursor.position(table)
            limit = None if upto is None else upto[table]
            if limit is not None and after >= limit:
                continue
            batch = self._ahead.take(table, after, self.batch_size, limit)
            if batch is None:
                batch = self._source.read(table, after, self.batch_size, limit)
            if batch.last > batch.after:
                if len(batch.rows) == self.batch_size:  # more to come: read it meanwhile
                    self._ahead.start(table, batch.last, self.batch_size, limit)
                self._ship(batch)
                moved = True
        if moved:
            self._progress()
        return moved

    def _ship(self, batch: Batch) -> None:
        try:
            self._parts.ship(batch)
        except ShippingStoppedError as exc:
            self._cursors.record_error(str(exc))
            raise

    def _acknowledge(self, done: Acknowledged) -> None:
        """Move the cursor past ``done`` (acknowledged, or rows skipped) and count it."""
        pruned = done.last - done.after - done.rows
        shipped = done.rows - done.rejected
        self._cursors.advance(
            done.table, done.last, shipped=shipped, pruned=pruned, rejected=done.rejected
        )
        counts = self._counts[done.table]
        counts["shipped"] += shipped
        counts["pruned"] += pruned
        counts["rejected"] += done.rejected
        counts["duplicates"] += done.duplicates
        if pruned:
            self._report(
                f"{pruned:,} {_ROW[done.table]} rows were deleted (retention, max_rows or prune) "
                f"before they were shipped: missing from ids {done.after + 1}..{done.last}"
            )
        line = done.rejection_line()
        if line:
            self._cursors.record_error(line)
            self._report(line)

    def _accepted(self, table: str) -> bool:
        """Whether the destination ever accepted a row of ``table`` from this database."""
        cursor = self._cursors.load()
        return (cursor.logs_shipped if table == "logs" else cursor.metrics_shipped) > 0

    def _send(self, table: str, rows: Sequence[Row]) -> Delivery:
        return self._retrier.run(lambda: self.destination.send(table, rows))

    def _progress(self) -> None:
        if self._on_progress is None:
            return
        cursor = self._cursors.load()
        behind = sum(max(0, self._source.top(t) - cursor.position(t)) for t in TABLES)
        totals = {
            k: sum(c[k] for c in self._counts.values()) for k in ("shipped", "pruned", "rejected")
        }
        self._on_progress(
            Progress(**totals, behind=behind, seconds=time.monotonic() - self._started)
        )

    def _report(self, line: str) -> None:
        self._report_line(one_line(line))


def file_identity(path: str) -> tuple[int, int] | None:
    """The device and inode of the file at ``path`` (None if there is none)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _wal_of(database: str) -> str:
    return schema.display_name(database) + "-wal"


def _check_rows(batch_size: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        msg = f"batch_size must be a whole number of rows, at least 1, not {batch_size!r}"
        raise ValueError(msg)
