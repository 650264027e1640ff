"""The handler's bounded queue: cheap for the calling thread, drained in chunks.

``queue.Queue`` takes a lock and notifies a condition on every ``put`` (about 1.7 µs
here, paid by the application's thread for every record) and hands items over one at a
time. This queue appends to a ``deque`` (atomic under the GIL) and touches a lock only
when the consumer is asleep; ``get`` returns every item queued so far (up to
``chunk``), so the listener pays its per-item overhead once per chunk. It keeps
``queue.Queue``'s names where it has the same behaviour.

A producer never blocks on a lock it may already hold: a signal handler or a finalizer
can run inside ``put`` on the same thread. No lock is shared between producers and the
consumer: a producer wakes the consumer by releasing the lock the consumer sleeps on
(one C call that never waits), and a producer waiting for room waits on a lock of its
own, which the consumer releases once it has taken items.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from typing import Any

__all__ = ["RecordQueue", "Reentered"]

#: Seconds the consumer sleeps at most before it looks at the queue again. A wake-up
#: is missed only when releasing the consumer's lock raised RecursionError (a record
#: logged at the recursion limit): the item is queued, and found within this time.
#: (A release that raised RuntimeError found the lock released already.)
_CONSUMER_NAP = 0.5


class Reentered(queue.Full):
    """``put`` found the queue full on a thread already waiting in ``put``.

    The caller interrupted itself (a signal handler, a finalizer): waiting again could
    only deepen the nesting, so it must not wait.
    """


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
        # The consumer sleeps on _wakeup while it is locked; a producer releases it.
        self._wakeup = threading.Lock()
        self._wakeup.acquire()
        self._consumer_waiting = False
        # Producers waiting for room: each waits on a lock of its own, held until the
        # consumer releases it after taking items.
        self._room_waiters: deque[Any] = deque()
        self._waiting_threads: set[int] = set()

    def qsize(self) -> int:
        """Items queued now."""
        return len(self._items)

    def snapshot(self) -> list[Any]:
        """The items queued now, oldest first (a copy: the queue goes on)."""
        return list(self._items)

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
            try:  # noqa: SIM105 - inline: nothing may raise once the item is queued
                self._wakeup.release()
            except RuntimeError:  # released already: it wakes anyway (see _CONSUMER_NAP)
                pass

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Append ``item``, waiting up to ``timeout`` seconds for room (None: for ever).

        Raises ``queue.Full`` at the timeout, and ``Reentered`` at once when the
        calling thread is already waiting here (it was interrupted while waiting).
        """
        try:
            self.put_nowait(item)
            return
        except queue.Full:
            if not block:
                raise
        me = threading.get_ident()
        if me in self._waiting_threads:
            raise Reentered
        deadline = None if timeout is None else time.monotonic() + timeout
        try:  # marked inside the try: a Ctrl-C between the two must not leave it
            self._waiting_threads.add(me)
            self._wait_for_room(deadline)
        finally:
            self._waiting_threads.discard(me)
        self.put_nowait_unbounded(item)

    def _wait_for_room(self, deadline: float | None) -> None:
        waiter = None
        while len(self._items) >= self.maxsize:
            if waiter is None:
                waiter = threading.Lock()
                waiter.acquire()
                self._room_waiters.append(waiter)
                continue  # look again: the consumer may have made room meanwhile
            left = -1.0 if deadline is None else deadline - time.monotonic()
            if deadline is not None and left <= 0:
                raise queue.Full
            if waiter.acquire(True, left):
                waiter = None  # released by the consumer: wait on a fresh one if need be

    def put_nowait_unbounded(self, item: Any) -> None:
        """Append ``item`` even beyond ``maxsize`` (markers, records that must not wait)."""
        self._items.append(item)
        if self._consumer_waiting:
            try:  # noqa: SIM105 - as in put_nowait
                self._wakeup.release()
            except RuntimeError:
                pass

    def get(self, block: bool = True) -> Any:
        """The sentinel on its own, or a list of the items queued before the next one.

        Waits while the queue is empty (``block=False`` raises ``queue.Empty`` instead).
        """
        items = self._items
        if not items:
            if not block:
                raise queue.Empty
            self._consumer_waiting = True
            # Checked after announcing the wait, so a producer that appended without
            # waking it (it saw no waiter) is not missed; a release that came before
            # the acquire makes it return at once.
            while not items:
                self._wakeup.acquire(True, _CONSUMER_NAP)
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
        if self._room_waiters:
            self.release_waiters()
        return chunk

    def release_waiters(self) -> None:
        """Wake every producer waiting for room (they look at the queue again)."""
        waiters = self._room_waiters
        while waiters:
            with contextlib.suppress(IndexError, RuntimeError):  # taken meanwhile
                waiters.popleft().release()

    def get_nowait(self) -> Any:
        """``get(block=False)``."""
        return self.get(block=False)
