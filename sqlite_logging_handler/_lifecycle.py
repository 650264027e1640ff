"""A handler's life around its pipeline: records after close, fork, the end of the process.

- **Late records.** ``dictConfig`` closes the old handlers before it opens the new ones,
  so threads logging meanwhile reach a closed handler: ``LATE`` passes such a record to
  an open handler of the same database, or keeps it for the next one to open.
- **End of life.** A record that reaches a closed handler while the process ends (a
  finalizer, a daemon thread or an ``atexit`` hook after ``logging.shutdown()``, a
  multiprocessing finalizer after the handler's own) is written by ``_late_write``
  on a short-lived connection, since no pipeline runs any more to write it.
- **Fork.** Before ``fork()`` every live handler closes its write connection (no SQLite
  state may cross into a child); a multiprocessing child, which ends with ``os._exit``,
  closes its handlers in multiprocessing's finalizers.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from ._listener import LISTENER_STOP, Listener
from ._queue import RecordQueue

if TYPE_CHECKING:
    from ._caller import CallerSide
    from .handler import SQLiteHandler

__all__ = [
    "INHERITED",
    "LATE",
    "LIVE",
    "close_with_multiprocessing",
    "configuring",
    "drain",
    "process_ending",
]

#: Pipelines a forked child inherited: never used, and never closed, in the child (an
#: SQLite connection must not be closed by a process that did not open it).
INHERITED: list[object] = []

# Set when multiprocessing's finalizers close this process's handlers: it is ending.
_ending = [False]


class _LateRecords:
    """Open handlers by database, and records kept for the next handler to open.

    One lock orders the two events that race during a reconfiguration: a closed
    handler handing a record over, and a new handler of the same database opening.
    Either the record finds the new handler, or the new handler finds the record.
    The lock is re-entrant: a signal handler may log into a closed handler while its
    thread is inside, and must not wait for itself.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._opened = threading.Condition(self._lock)
        self._open: dict[str, list[SQLiteHandler]] = {}
        self._kept: dict[str, list[tuple[CallerSide, tuple[Any, ...]]]] = {}

    def reinit_after_fork(self) -> None:
        """In a forked child: fresh locks (a parent thread may have held them at fork)."""
        self._lock = threading.RLock()
        self._opened = threading.Condition(self._lock)

    def open(self, handler: SQLiteHandler) -> None:
        """Mark ``handler`` open and give it the records kept for its database."""
        with self._lock:
            handler._closed = False
            self._open.setdefault(handler._uri, []).append(handler)
            kept = self._kept.pop(handler._uri, [])
            self._opened.notify_all()
        LIVE.add(handler)
        for closed, item in kept:
            closed._took_kept()
            handler._enqueue(item)

    def close(self, handler: SQLiteHandler) -> None:
        """Forget ``handler`` (it takes no more records)."""
        with self._lock:
            handlers = self._open.get(handler._uri, [])
            if handler in handlers:
                handlers.remove(handler)
            if not handlers:
                self._open.pop(handler._uri, None)

    def hand_over(
        self,
        closed: CallerSide,
        item: tuple[Any, ...],
        wait_until: float | None,
        *,
        keep: bool,
    ) -> str | None:
        """Pass ``item`` from ``closed`` to an open handler of its database, if any.

        Until the monotonic time ``wait_until``, waits for one to open. Without one,
        ``keep`` keeps the record (up to ``queue_size`` of them) for the next.
        Returns ``"passed"``, ``"kept"``, or None when nobody took the record.
        """
        uri = closed._uri
        with self._lock:
            while not (handlers := self._open.get(uri)):
                left = -1.0 if wait_until is None else wait_until - time.monotonic()
                if left > 0:
                    self._opened.wait(left)
                    continue
                kept = self._kept.setdefault(uri, [])
                if keep and len(kept) < closed.queue_size:
                    kept.append((closed, item))
                    return "kept"
                return None
            successor = handlers[-1]
        successor._enqueue(item)
        return "passed"


LATE = _LateRecords()

#: Handlers whose threads may run, until close() has ended (paused around fork()); the
#: LATE registry holds only those still taking records, until close() begins.
LIVE: weakref.WeakSet[SQLiteHandler] = weakref.WeakSet()


def configuring() -> str | None:
    """Who holds logging's module lock, as dictConfig and fileConfig do while they run.

    ``"here"`` (this thread), ``"elsewhere"``, or None when it is free.
    """
    lock = getattr(logging, "_lock", None)  # private, but the one both configs hold
    if lock is None or not hasattr(lock, "_is_owned"):
        return None
    if lock._is_owned():
        return "here"
    if not lock.acquire(blocking=False):
        return "elsewhere"
    lock.release()
    return None


def process_ending() -> bool:
    """Whether the process is on its way out, so nothing will close a handler again.

    True once the main thread has finished (the interpreter is exiting: ``atexit``
    hooks, finalizers and daemon threads still run), during finalization, and in a
    multiprocessing child once multiprocessing runs its exit finalizers.
    """
    if _ending[0] or sys.is_finalizing():
        return True
    util = sys.modules.get("multiprocessing.util")
    if util is not None and getattr(util, "_exiting", False):
        return True
    return not threading.main_thread().is_alive()


def drain(records: RecordQueue | None, listener: Listener | None = None) -> list[tuple[Any, ...]]:
    """Empty ``records``, returning the log records it held (flush markers are released).

    The listener's stop marker is put back while the listener runs: it must see it, or
    it would outlive ``close()``.
    """
    items: list[tuple[Any, ...]] = []
    stop = False
    while records is not None:
        try:
            chunk = records.get_nowait()
        except queue.Empty:
            break
        stop = stop or chunk is LISTENER_STOP
        for item in chunk if isinstance(chunk, list) else ():
            if type(item) is tuple:
                items.append(item)
            else:
                item()  # a flush marker: release its waiter
    if stop and records is not None and listener is not None and listener.is_alive():
        records.put_nowait_unbounded(LISTENER_STOP)
    return items


def close_with_multiprocessing(handler: CallerSide) -> Any:
    """In a multiprocessing child, close ``handler`` before the child's ``os._exit``.

    multiprocessing runs its finalizers before ``os._exit``, but not ``atexit`` (so
    not ``logging.shutdown``), whatever the start method. Returns the finalizer
    (``cancel()`` it once the handler is closed), or None outside such a child.
    """
    util = sys.modules.get("multiprocessing.util")
    process = sys.modules.get("multiprocessing.process")
    if util is None or process is None:
        return None
    if getattr(process, "_parent_process", None) is None:
        return None  # not a multiprocessing child
    # Priority 100: before the application's own finalizers (0 by default), whose
    # records then reach a closed handler in an ending process, and are written directly.
    return util.Finalize(None, _close_at_exit, args=(weakref.ref(handler),), exitpriority=100)


def _close_at_exit(ref: weakref.ref[CallerSide]) -> None:
    _ending[0] = True
    handler = ref()
    if handler is not None:
        handler.close()


def _before_fork() -> None:
    for handler in list(LIVE):
        handler._pause_for_fork()


def _after_fork_in_parent() -> None:
    for handler in list(LIVE):
        handler._resume_after_fork()


def _after_fork_in_child() -> None:
    LATE.reinit_after_fork()
    _ending[0] = False


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
