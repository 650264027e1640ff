"""The listener: a stdlib ``QueueListener`` that passes queued records to the writer.

It runs on its own thread, takes chunks of records from the handler's ``RecordQueue``
and hands them, with the flush markers between them, to the writer's ``Transport``
(which turns them into rows in this process, or sends them to a writer process); it
never raises, so the thread never dies.
"""

from __future__ import annotations

import threading
import time
from logging.handlers import QueueListener
from typing import Any

from ._queue import RecordQueue
from ._reentrancy import add_pipeline_thread, pipeline_thread_ids
from ._transport import Item, Transport

__all__ = ["LISTENER_STOP", "Listener"]

#: What QueueListener stops on.
LISTENER_STOP = getattr(QueueListener, "_sentinel", None)


class Listener(QueueListener):
    """Moves records from the handler's queue to the writer's transport.

    ``handle`` runs on the listener's own thread (stdlib ``QueueListener._monitor``);
    it never raises, so the thread never dies.
    """

    def __init__(self, records: RecordQueue, transport: Transport) -> None:
        super().__init__(records)
        self._records = records
        self._transport = transport
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
        """Pass a chunk of queued items to the transport, in order.

        ``RecordQueue.get`` hands over everything queued so far at once, so the
        per-item overhead is paid per chunk. A flush marker in the chunk is passed on
        after the records queued before it.
        """
        items: list[Any] = record
        self.received += len(items)
        transport = self._transport
        if transport.ended:  # close() gave up: count them at once, never convert them
            self._count_unwritten(items)
            return
        records: list[Item] = []
        own = pipeline_thread_ids()  # records they log are covered by flush(): see _own_threads
        for item in items:
            if type(item) is tuple:
                if getattr(item[0], "thread", None) in own:
                    self.own_received += 1
                records.append(item)
                continue
            self.received -= 1  # a flush marker
            if records:
                self._send(records)
                records = []
            try:
                transport.flush(item)
            except BaseException as exc:  # never let the thread die; release the waiter
                transport.record_failure(f"flush failed: {type(exc).__name__}: {exc}")
                item()
        if records:
            self._send(records)

    def _send(self, records: list[Item]) -> None:
        try:
            self._transport.send(records)
        except BaseException as exc:  # never let the thread die; the records are counted
            for _ in records:
                self._transport.record_failure(f"{type(exc).__name__}: {exc}")

    def _count_unwritten(self, items: list[Any]) -> None:
        """Count the records of a chunk that came after ``close()`` ended the writer."""
        records = 0
        for item in items:
            if type(item) is tuple:
                records += 1
            else:  # a flush marker: released at once by the ended writer
                self.received -= 1
                self._transport.flush(item)
        self._transport.count_unwritten(records)

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
