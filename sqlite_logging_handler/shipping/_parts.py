"""Sending one batch: in parts when it must be split, each part acknowledged once.

A batch goes out as one request. When the destination refuses it as data (HTTP 400, a
row PostgreSQL cannot store) or it is too large for one request, it is halved, and the
halves are sent in row order, until the rows at fault stand alone; a part acknowledged
is never sent again, and the cursor moves past it at once. Rows refused on their own
are skipped (counted, reported in one line per batch) or stop the shipper
(``on_rejected="stop"``). A destination that refuses every row it is sent is not
refusing the data but failing: the shipper stops before the rows instead of skipping
everything, at the first row refused of a kind (logs, metrics) the destination has
never accepted from this database (its cursor's counts), and after
``REFUSE_ALL_AFTER`` rows of one kind refused in a row with none of that kind accepted
(logs accepted do not excuse metrics refused: a path or proxy may fail one signal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .destination import Delivery
from .errors import RequestTooLargeError, RowsRejectedError, ShippingStoppedError
from .source import Batch, Row

__all__ = ["REFUSE_ALL_AFTER", "Acknowledged", "PartSender"]

#: Rows refused one after another, none accepted between, that make a destination
#: "refusing everything": a fault to stop on, not data to skip.
REFUSE_ALL_AFTER = 10
#: Row ids named in a report line; the rest are counted.
_IDS_SHOWN = 5
_ROW = {"logs": "log", "metrics": "metric"}


@dataclass
class Acknowledged:
    """Rows the destination answered for since the cursor's position ``after``."""

    table: str
    after: int
    last: int = 0
    rows: int = 0
    rejected: int = 0
    duplicates: int = 0
    refused_ids: list[int] = field(default_factory=list)  # refused one by one
    dropped: int = 0  # refused after the request was accepted (OTLP partial success)
    reasons: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.last = self.after

    def add(self, rows: int, last: int, delivery: Delivery) -> None:
        self.rows += rows
        self.last = last
        self.rejected += delivery.rejected
        self.duplicates += delivery.duplicates
        if delivery.rejected and delivery.message and delivery.message not in self.reasons:
            self.reasons.append(delivery.message)

    def refused(self, row_id: int, last: int, reason: str) -> None:
        self.add(1, last, Delivery(rejected=1, message=reason))
        self.refused_ids.append(row_id)

    def rejection_line(self) -> str:
        """One line naming the rows skipped and why ("" if none)."""
        if not self.rejected:
            return ""
        row = _ROW[self.table]
        said = []
        ids = self.refused_ids
        if ids:
            named = ", ".join(str(i) for i in ids[:_IDS_SHOWN])
            more = f" and {len(ids) - _IDS_SHOWN:,} more" if len(ids) > _IDS_SHOWN else ""
            plural = len(ids) > 1
            said.append(
                f"{row} row{'s' if plural else ''} {named}{more} "
                f"{'were' if plural else 'was'} rejected"
            )
        dropped = self.rejected - len(ids)
        if dropped:
            said.append(
                f"{dropped:,} {row} row{'s were' if dropped > 1 else ' was'} dropped by the "
                "destination after it took the request"
            )
        reasons = "; ".join(self.reasons[:3]) or "no reason given"
        return f"{', '.join(said)} and skipped: {reasons}"


class PartSender:
    """Sends batches in parts, and watches for a destination that refuses everything.

    Args:
        send: sends rows of a table in one request (retrying outages) and returns what
            the destination said, or raises ``RowsRejectedError``.
        acknowledge: moves the cursor past an ``Acknowledged`` (its rows are done).
        on_rejected: ``"skip"``, ``"stop"`` or ``"skip-all"`` (skip even when the
            destination refuses everything).
        key: the destination's name, for messages.
    """

    def __init__(
        self,
        send: Callable[[str, Sequence[Row]], Delivery],
        acknowledge: Callable[[Acknowledged], None],
        on_rejected: str,
        key: str,
        accepted_before: Callable[[str], bool] = lambda table: True,
    ) -> None:
        self._send = send
        self._acknowledge = acknowledge
        self.on_rejected = on_rejected
        self.key = key
        self._accepted_before = accepted_before  # whether a row of a table ever went
        #: Per table, across batches: a destination's state, not a batch's.
        self.refused_in_a_row = {"logs": 0, "metrics": 0}

    def ship(self, batch: Batch) -> None:
        """Send ``batch`` until every row is acknowledged or skipped.

        Raises:
            ShippingStoppedError: a row refused with ``on_rejected="stop"``, or the
                destination refuses everything (the cursor stays before those rows).
        """
        rows = batch.rows
        done = Acknowledged(batch.table, batch.after)
        pending = [(0, len(rows))]
        while pending:
            start, stop = pending.pop()
            last = batch.last if stop == len(rows) else int(rows[stop - 1][0])
            try:
                delivery = self._send(batch.table, rows[start:stop])
            except RowsRejectedError as exc:
                if stop - start > 1:  # halve: the first half goes first (row order)
                    middle = (start + stop) // 2
                    pending += [(middle, stop), (start, middle)]
                    continue
                self._refused_alone(done, int(rows[start][0]), last, exc)
                continue
            if delivery.rejected < stop - start:
                self.refused_in_a_row[batch.table] = 0
            else:
                self._count_refusals(
                    batch.table, stop - start, delivery.message or "no reason given"
                )
            done.add(stop - start, last, delivery)
            if delivery.rejected < stop - start:
                self._move(done)
                done = Acknowledged(batch.table, done.last)
        self._move(done)

    def _refused_alone(
        self, done: Acknowledged, row_id: int, last: int, exc: RowsRejectedError
    ) -> None:
        if self.on_rejected == "stop":
            self._move(done)
            msg = f"{_ROW[done.table]} row {row_id} was rejected: {exc}"
            raise ShippingStoppedError(msg)
        if not isinstance(exc, RequestTooLargeError):  # our limit, not the destination's
            self._count_refusals(done.table, 1, str(exc))
        done.refused(row_id, last, str(exc))

    def _count_refusals(self, table: str, rows: int, reason: str) -> None:
        self.refused_in_a_row[table] += rows
        if self.on_rejected == "skip-all":  # the user knows these rows are at fault
            return
        refused, row = self.refused_in_a_row[table], _ROW[table]
        never = not self._accepted_before(table)
        if refused >= REFUSE_ALL_AFTER or never:
            said = (
                f"has never accepted a {row} row from this database"
                if never
                else f"refused each of the last {refused:,} {row} rows sent and accepted none"
            )
            msg = (
                f"stopped: {self.key} {said}, so it refuses everything rather than "
                f"these rows (a wrong endpoint, a proxy, a table that fits no row); "
                f"the rows it refused stay unshipped (if they really are at fault, ship "
                f"with --on-rejected skip-all): {reason}"
            )
            raise ShippingStoppedError(msg)

    def _move(self, done: Acknowledged) -> None:
        if done.last != done.after:
            self._acknowledge(done)
