"""The listener: a stdlib ``QueueListener`` that turns queued records into rows.

It runs on its own thread, takes chunks of records from the handler's ``RecordQueue``
and hands rows to the ``BatchWriter``; it never raises, so the thread never dies.
"""

from __future__ import annotations

import threading
import time
from logging.handlers import QueueListener
from typing import Any

from ._json import RENDERING_FAILURES
from ._queue import RecordQueue
from ._records import Row, is_metric, log_row, metric_row
from ._reentrancy import add_pipeline_thread, pipeline_thread_ids
from ._writer import BatchWriter

__all__ = ["LISTENER_STOP", "YIELD_EVERY", "Listener"]

#: Records the listener converts between two offers of the GIL (``time.sleep(0)``).
#: A thread that wants the GIL back (the application's, or the writer's returning
#: from SQLite) otherwise waits for the interpreter's switch interval, 5 ms, while
#: this thread converts records; measured here: the application's cost per call
#: drops about 10 %, and the writer's SQLite work overlaps more with this thread.
YIELD_EVERY = 32

#: What QueueListener stops on.
LISTENER_STOP = getattr(QueueListener, "_sentinel", None)


class Listener(QueueListener):
    """Moves records from the handler's queue into the writer's batches.

    ``handle`` runs on the listener's own thread (stdlib ``QueueListener._monitor``);
    it never raises, so the thread never dies.
    """

    def __init__(self, records: RecordQueue, writer: BatchWriter) -> None:
        super().__init__(records)
        self._records = records
        self._writer = writer
        self.received = 0  # records taken off the queue (listener thread only)
        self.own_received = 0  # of them, records logged on a listener or writer thread
        self._stop_sent = False

    def start(self) -> None:
        super().start()
        if self._thread is not None:
            self._thread.name = "sqlite-logging-listener"

    def _monitor(self) -> None:
        # A record logged on this thread (a finalizer, an extra's __repr__) must not
        # wait for the queue this thread drains.
        add_pipeline_thread(threading.current_thread())
        super()._monitor()  # type: ignore[misc]

    def handle(self, record: Any) -> None:
        """Turn a chunk of queued items into rows for the writer, in order.

        ``RecordQueue.get`` hands over everything queued so far at once, so the
        per-item overhead is paid per chunk. A flush marker in the chunk is passed on
        after the rows queued before it.
        """
        items: list[Any] = record
        self.received += len(items)
        writer = self._writer
        if writer.ended:  # close() gave up: count them at once, never convert them
            self._count_unwritten(items)
            return
        logs: list[Row] = []
        metrics: list[Row] = []
        add_log, add_metric = logs.append, metrics.append
        own = pipeline_thread_ids()  # records they log are covered by flush(): see _own_threads
        for n, item in enumerate(items):
            if not n % YIELD_EVERY:
                time.sleep(0)  # hand the GIL over now: see YIELD_EVERY
            if type(item) is not tuple:  # a flush marker
                self.received -= 1
                writer.add_rows(logs, metrics)
                logs, metrics = [], []
                add_log, add_metric = logs.append, metrics.append
                writer.flush(item)
                continue
            if getattr(item[0], "thread", None) in own:
                self.own_received += 1
            try:
                if is_metric(item[0]):
                    add_metric(metric_row(item[0]))
                else:
                    add_log(log_row(*item))
            except RENDERING_FAILURES as exc:  # an extra's __repr__ that exits, say
                writer.record_failure(f"{type(exc).__name__}: {exc}")
        writer.add_rows(logs, metrics)

    def _count_unwritten(self, items: list[Any]) -> None:
        """Count the records of a chunk that came after ``close()`` ended the writer."""
        records = 0
        for item in items:
            if type(item) is tuple:
                records += 1
            else:  # a flush marker: released at once by the ended writer
                self.received -= 1
                self._writer.flush(item)
        self._writer.count_unwritten(records)

    def stop_by(self, deadline: float) -> bool:
        """Ask the thread to finish what is queued and stop; wait until ``deadline``.

        The stop marker is queued once, also into a full queue (the thread must end
        with the handler); a second call only waits again.
        """
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False  # it cannot wait for itself: what is left is counted as failed
        if not self._stop_sent:
            # Beyond the bound: the stop marker never waits for room (close() may run
            # in a signal handler that interrupted a caller waiting for room).
            self._stop_sent = True
            self._records.put_nowait_unbounded(LISTENER_STOP)
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def is_alive(self) -> bool:
        """Whether the listener thread is running."""
        return self._thread is not None and self._thread.is_alive()
