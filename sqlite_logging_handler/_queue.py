"""The handler's bounded queue: cheap for the calling thread, drained in chunks.

``queue.Queue`` takes a lock and notifies a condition on every ``put`` (about 1.7 µs
here, paid by the application's thread for every record) and hands items over one at a
time. This queue appends to a ``deque`` (atomic under the GIL) and touches the lock
only when the consumer is asleep or the queue is full; ``get`` returns every item
queued so far (up to ``chunk``), so the listener pays its per-item overhead once per
chunk. It keeps ``queue.Queue``'s names where it has the same behaviour.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any

__all__ = ["RecordQueue"]


class RecordQueue:
    """A bounded multi-producer, single-consumer queue of records and markers.

    Args:
        maxsize: items held at most; ``put_nowait`` raises ``queue.Full`` beyond it.
        sentinel: the consumer's stop marker, always returned by ``get`` on its own
            (``logging.handlers.QueueListener`` stops when ``get`` returns it).
        chunk: most items one ``get`` returns.
        linger: seconds ``get`` waits, once woken, for more items to arrive.
    """

    def __init__(
        self, maxsize: int, sentinel: object = None, chunk: int = 1000, linger: float = 0.002
    ) -> None:
        self.maxsize = maxsize
        self._linger = linger
        self._items: deque[Any] = deque()
        self._sentinel = sentinel
        self._chunk = chunk
        lock = threading.Lock()
        self._not_empty = threading.Condition(lock)
        self._not_full = threading.Condition(lock)
        self._consumer_waiting = False
        self._producers_waiting = 0

    def qsize(self) -> int:
        """Items queued now."""
        return len(self._items)

    def full(self) -> bool:
        """Whether ``put_nowait`` would raise ``queue.Full`` now."""
        return len(self._items) >= self.maxsize

    def put_nowait(self, item: Any) -> None:
        """Append ``item``, or raise ``queue.Full`` (the calling thread never waits)."""
        items = self._items
        if len(items) >= self.maxsize:
            raise queue.Full
        items.append(item)
        if self._consumer_waiting:
            with self._not_empty:
                self._not_empty.notify()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Append ``item``, waiting up to ``timeout`` seconds for room (None: for ever)."""
        try:
            self.put_nowait(item)
            return
        except queue.Full:
            if not block:
                raise
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._not_full:
            self._producers_waiting += 1
            try:
                while len(self._items) >= self.maxsize:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise queue.Full
                    self._not_full.wait(left)
            finally:
                self._producers_waiting -= 1
        self.put_nowait_unbounded(item)

    def put_nowait_unbounded(self, item: Any) -> None:
        """Append ``item`` even beyond ``maxsize`` (for markers that must get through)."""
        self._items.append(item)
        if self._consumer_waiting:
            with self._not_empty:
                self._not_empty.notify()

    def get(self, block: bool = True) -> Any:
        """The sentinel on its own, or a list of the items queued before the next one.

        Waits while the queue is empty (``block=False`` raises ``queue.Empty`` instead).
        """
        items = self._items
        if not items:
            if not block:
                raise queue.Empty
            with self._not_empty:
                self._consumer_waiting = True
                # Checked after announcing the wait, so a producer that appended
                # without notifying (it saw no waiter) is not missed.
                while not items:
                    self._not_empty.wait()
                self._consumer_waiting = False
            # Woken by the first record of a burst: let the burst gather for a moment,
            # so the consumer wakes once per chunk instead of once per record (each
            # wake-up costs both threads a GIL hand-over).
            time.sleep(self._linger)
        if items[0] is self._sentinel:
            return items.popleft()
        chunk: list[Any] = []
        append, popleft, sentinel = chunk.append, items.popleft, self._sentinel
        for _ in range(min(len(items), self._chunk)):
            if items[0] is sentinel:
                break
            append(popleft())
        if self._producers_waiting:
            with self._not_full:
                self._not_full.notify_all()
        return chunk

    def get_nowait(self) -> Any:
        """``get(block=False)``."""
        return self.get(block=False)
