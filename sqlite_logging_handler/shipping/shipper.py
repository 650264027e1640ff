"""Shipper: a log database's committed rows to one destination, at least once, resumably.

The loop, per table: read the rows after the cursor (committed rows only, one short
read transaction), send them, and only once the destination acknowledged them move the
cursor, in the log database itself. Killed at any moment, a shipper started again sends
every row not acknowledged, and skips none. When it has caught up it sleeps until the
next commit (``_wakeup``), so it costs nothing while the application is quiet.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import schema
from ._backoff import Backoff
from ._readahead import ReadAhead
from ._wakeup import ChangeWaiter
from .cursors import CursorStore, cursor_status, open_log_database, read_cursors
from .destination import Delivery, Destination, SourceInfo, destination_for, resource_attributes
from .errors import (
    DestinationRefusedError,
    DestinationUnavailableError,
    RowsRejectedError,
    ShippingError,
    ShippingStoppedError,
)
from .source import TABLES, Batch, Row, RowSource

__all__ = ["Progress", "Shipper"]

_log = logging.getLogger(__name__)  # ignored by SQLiteHandler: never shipped into itself
#: Seconds between checks for new rows while idle, beyond the change notifications
#: (a safety net for file systems that do not report changes, such as NFS).
IDLE_RECHECK = 30.0
#: Seconds waited after a commit wakes an idle shipper, so that the commits of a busy
#: application (a few a second per handler) go out together rather than one request each.
LINGER = 0.2
#: Seconds between two reports of the same ongoing outage.
REPORT_EVERY = 60.0
ON_REJECTED = ("skip", "stop")
_ROW = {"logs": "log", "metrics": "metric"}  # "log row 12", "500 metric rows"


@dataclass
class Progress:
    """Where a shipper is: counts since it started, and about how many rows are behind."""

    shipped: int
    pruned: int
    rejected: int
    behind: int
    seconds: float


class _StopRequestedError(Exception):
    """stop() was called while a batch was in flight; its rows stay behind the cursor."""


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
            ``"skip"`` them (counted, reported) or ``"stop"`` before them.
        retry_for: seconds to keep retrying an unavailable destination before stopping
            (None: forever; the rows wait safely in the database meanwhile).
        name: the name the cursor is stored under (default: the destination's URL
            without credentials); give one to keep a cursor when the URL changes.
        on_progress: called with a ``Progress`` after each batch.
        report: called with each warning line (default: the ``logging`` logger
            ``sqlite_logging_handler.shipping.shipper``, which SQLiteHandler ignores).
        poll_interval: seconds between checks for new rows where the kernel cannot
            signal commits (not Linux).

    Raises:
        FileNotFoundError: the database does not exist.
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
        if retry_for is not None and not retry_for > 0:
            msg = f"retry_for must be a positive number of seconds or None, not {retry_for!r}"
            raise ValueError(msg)
        self.destination = (
            destination_for(destination) if isinstance(destination, str) else destination
        )
        self.database = os.fspath(database)
        preferred = getattr(self.destination, "batch_size", 1000)
        self.batch_size: int = batch_size if batch_size is not None else int(preferred)
        self.on_rejected = on_rejected
        self.retry_for = retry_for
        self._on_progress = on_progress
        self._report_line = report or _log.warning
        self._source = RowSource(self.database)
        self._ahead = ReadAhead(self.database)
        conn = open_log_database(self.database)
        try:
            instance = schema.instance_id(conn) or ""
            self._cursors = CursorStore(conn, name or self.destination.key)
            self._waiter = ChangeWaiter(self.database, poll_interval)
        except BaseException:
            conn.close()
            raise
        self.info = SourceInfo(
            self.database, instance, resource_attributes(instance, service_name, resource)
        )
        self._closed = False
        self._stopping = False
        self._opened = False
        self._backoff = Backoff()
        self._failing_since: float | None = None
        self._last_report = 0.0
        self._started = time.monotonic()
        self._counts = {
            t: {"shipped": 0, "pruned": 0, "rejected": 0, "duplicates": 0} for t in TABLES
        }

    # -- public -------------------------------------------------------------------------

    def run(self) -> None:
        """Ship until ``stop()``: everything committed, then each new commit as it comes.

        Raises:
            ShippingStoppedError: the destination refused permanently, ``retry_for`` ran out,
                or a row was rejected with ``on_rejected="stop"``.
        """
        self._check_open()
        try:
            while not self._stopping:
                if not self._round():
                    self._waiter.wait(IDLE_RECHECK)
                    # Let the commits of the next moment join this one's in one request.
                    self._waiter.pause(LINGER)
        except _StopRequestedError:
            pass
        finally:
            self.close()

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
        except _StopRequestedError:
            pass
        finally:
            self.close()
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

    # -- the loop ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            msg = "this Shipper has run and is closed; make a new one (it resumes from the cursor)"
            raise ShippingError(msg)

    def _round(self, upto: Mapping[str, int] | None = None) -> bool:
        """One batch of each table; whether anything moved."""
        if not self._opened:
            self._retrying(lambda: self.destination.open(self.info))
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
        outcomes, refused = self._deliver(batch.table, batch.rows)
        shipped = rejected = 0
        for count, delivery in outcomes:
            shipped += count - delivery.rejected
            rejected += delivery.rejected
            self._counts[batch.table]["duplicates"] += delivery.duplicates
        if refused is None:
            self._acknowledge(batch, len(batch.rows), shipped, rejected)
            return
        index, reason = refused  # on_rejected="stop": keep what came before, stop there
        self._acknowledge(batch, index, shipped, rejected)
        message = f"{_ROW[batch.table]} row {batch.rows[index][0]} was rejected: {reason}"
        self._cursors.record_error(message)
        raise ShippingStoppedError(message)

    def _acknowledge(self, batch: Batch, count: int, shipped: int, rejected: int) -> None:
        """Move the cursor past the first ``count`` rows of ``batch`` (all: to its end)."""
        if count == len(batch.rows):
            last = batch.last
        else:
            last = int(batch.rows[count - 1][0]) if count else batch.after
        if last == batch.after:
            return
        pruned = last - batch.after - count
        self._cursors.advance(batch.table, last, shipped=shipped, pruned=pruned, rejected=rejected)
        counts = self._counts[batch.table]
        counts["shipped"] += shipped
        counts["pruned"] += pruned
        counts["rejected"] += rejected
        if pruned:
            self._report(
                f"{pruned:,} {_ROW[batch.table]} rows were deleted (retention, max_rows or prune) "
                f"before they were shipped: missing from ids {batch.after + 1}..{last}"
            )

    def _deliver(
        self, table: str, rows: Sequence[Row]
    ) -> tuple[list[tuple[int, Delivery]], tuple[int, str] | None]:
        """Send ``rows``, isolating the rows refused as data by halving the request.

        Returns the acknowledged parts in row order (how many rows, what the destination
        said), and, with ``on_rejected="stop"``, the index of the first refused row and
        why (the parts before it were acknowledged; nothing after it was sent).
        """
        outcomes: list[tuple[int, Delivery]] = []
        pending = [(0, len(rows))]
        while pending:
            start, stop = pending.pop()
            try:
                outcomes.append((stop - start, self._send(table, rows[start:stop])))
            except RowsRejectedError as exc:
                if stop - start > 1:
                    middle = (start + stop) // 2
                    pending += [(middle, stop), (start, middle)]
                elif self.on_rejected == "stop":
                    return outcomes, (start, str(exc))
                else:
                    self._report(
                        f"{_ROW[table]} row {rows[start][0]} was rejected and skipped: {exc}"
                    )
                    outcomes.append((1, Delivery(rejected=1, message=str(exc))))
        return outcomes, None

    def _send(self, table: str, rows: Sequence[Row]) -> Delivery:
        delivery: Delivery = self._retrying(lambda: self.destination.send(table, rows))
        if delivery.rejected:
            self._report(
                f"{self.destination.key} dropped {delivery.rejected:,} of the {len(rows):,} "
                f"{_ROW[table]} rows it accepted: {delivery.message or 'no reason given'}"
            )
        return delivery

    def _retrying(self, action: Callable[[], Any]) -> Any:
        """``action()``, retried with backoff while the destination is unavailable."""
        while True:
            if self._stopping:
                raise _StopRequestedError
            try:
                result = action()
            except DestinationUnavailableError as exc:
                self._wait_to_retry(exc)
                continue
            except DestinationRefusedError as exc:
                self._cursors.record_error(str(exc))
                raise ShippingStoppedError(str(exc)) from exc
            if self._failing_since is not None:
                self._report(f"{self.destination.key} is reachable again")
                self._failing_since = None
            self._backoff.reset()
            return result

    def _wait_to_retry(self, exc: DestinationUnavailableError) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            self._last_report = 0.0
        self._cursors.record_error(str(exc))
        waited = now - self._failing_since
        if self.retry_for is not None and waited >= self.retry_for:
            msg = f"gave up after retrying for {waited:.0f} s: {exc}"
            self._cursors.record_error(msg)
            raise ShippingStoppedError(msg) from exc
        delay = self._backoff.next_delay(exc.retry_after)
        if self.retry_for is not None:
            delay = min(delay, self.retry_for - waited)
        if now - self._last_report >= REPORT_EVERY:
            self._last_report = now
            self._report(f"{exc}; retrying in {delay:.1f} s (rows wait in the database)")
        if self._waiter.pause(delay):
            raise _StopRequestedError

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
        self._report_line(line)


def _check_rows(batch_size: object) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        msg = f"batch_size must be a whole number of rows, at least 1, not {batch_size!r}"
        raise ValueError(msg)
