"""Public methods called on the handler's own threads, and callers of a close under way.

A hook runs on the writer thread; a finalizer, an extra's ``__repr__`` or ``__str__`` may
run on the listener thread. Code there can call any public method of the handler, and
``logging.shutdown()`` (which flushes and closes every handler). None of them may wait
for the thread it runs on:

- ``close()`` on an own thread hands the closing to a thread of its own and returns:
  the pipeline goes on draining what was queued before the call, then ends as usual
  (the stop marker comes after those records). A later ``close()`` or ``flush()`` on
  another thread waits for that close to finish, so ``stats()`` adds up after it.
- ``flush()`` there returns False at once (it cannot wait for itself), and so does a
  ``flush()`` that interrupted a wait of its own thread (a signal handler).
- ``maintain()``, ``backup()`` and the writer's ``call`` need the writer to run for
  them: there they raise ``SQLiteLoggingError`` at once, saying why, instead of
  waiting for their timeout.

``flush()`` also covers what its own rounds made the handler's threads log: converting a
record can log (an extra's ``__repr__``), and so can a hook after its commit. Those
records are queued after the flush's marker; while some are waiting once the marker
has come through, ``flush()`` sends another (up to ``EXTRA_ROUNDS``), so that
``written + dropped + failed == emitted`` once it returns.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._reentrancy import on_pipeline_thread, pipeline_thread_ids
from ._stderr import write_stderr
from .exceptions import SQLiteLoggingError

if TYPE_CHECKING:
    from ._caller import CallerSide
    from .handler import SQLiteHandler

__all__ = ["close_from_own_thread", "flush_rounds", "refuse_on_own_thread", "wait_for_close"]

#: Seconds a caller waits at most for a close() under way in another thread.
CLOSE_WAIT = 35.0
# Threads waiting in flush() or for a close(): a signal handler (or a finalizer) that
# interrupted such a wait and calls flush() or close() in turn does not wait again. It
# would nest waits (a signal every millisecond piles them up to the recursion limit),
# or wait for the lock of the Event its own thread is inside. It returns at once: its
# flush() says False (not confirmed), as on the handler's own threads.
_WAITING: set[int] = set()

#: Rounds ``flush()`` adds, at most, for records its rounds made the handler's threads
#: log (a record logged per record converted needs one; a chain of them, more).
EXTRA_ROUNDS = 5


def flush_rounds(
    round_trip: Callable[[float | None], bool],
    queued: Callable[[], list[Any]],
    own_taken: Callable[[], int],
    timeout: float | None,
) -> bool:
    """``round_trip(timeout)`` again while the last one made the handler's threads log.

    Args:
        round_trip: sends a flush marker and waits (at most the seconds given, None:
            as long as the writer makes progress) until it came through; whether it did.
        queued: the items queued now (``RecordQueue.snapshot``).
        own_taken: how many records logged on the handler's threads the listener has
            taken so far (``Listener.own_received``).
        timeout: seconds for all the rounds together (None: no limit).
    """
    me = threading.get_ident()
    if me in _WAITING:  # it interrupted a wait of its own thread: see _WAITING
        return False
    try:  # marked inside the try: a Ctrl-C between the two must not leave it
        _WAITING.add(me)
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        for _ in range(1 + EXTRA_ROUNDS):
            taken = own_taken()
            left = None if timeout is None else max(0.0, deadline - time.monotonic())
            if not round_trip(left):
                return False
            if own_taken() == taken and not _logged_on_own_threads(queued()):
                return True
        return True
    finally:
        _WAITING.discard(me)


def _logged_on_own_threads(items: list[Any]) -> bool:
    """Whether ``items`` hold a record created on a listener or writer thread."""
    if not items:
        return False
    own = pipeline_thread_ids()
    return any(type(item) is tuple and getattr(item[0], "thread", None) in own for item in items)


def close_from_own_thread(handler: SQLiteHandler) -> bool:
    """On a pipeline thread, have another thread run ``handler.close()``; whether it did.

    The closing thread is not a daemon: the interpreter waits for it at exit, so what
    was queued is written before the process ends. If no thread can be started (at
    interpreter shutdown), the caller closes as best it can (see ``close()``).
    """
    if not on_pipeline_thread():
        return False
    if handler._closed:
        return True  # closed or closing already: nothing to hand over
    closer = threading.Thread(target=handler.close, name="sqlite-logging-close", daemon=False)
    try:
        closer.start()
    except RuntimeError:  # "can't create new thread at interpreter shutdown"
        write_stderr(
            f"close() of the handler of {handler.database} was called on its own thread "
            "while the interpreter shuts down: records still queued are counted as failed"
        )
        return False
    return True


def wait_for_close(handler: CallerSide, timeout: float | None = None) -> bool:
    """Wait (at most ``timeout`` s) for a ``close()`` under way on another thread.

    Returns at once on the thread that is closing (a signal handler or a finalizer
    that interrupted its own ``close()``) and on the handler's own threads. Returns
    whether no close is under way any more.
    """
    me = threading.get_ident()
    if handler._closer == me or me in _WAITING or on_pipeline_thread():
        return handler._close_done.is_set()
    try:  # marked inside the try: a Ctrl-C between the two must not leave it
        _WAITING.add(me)
        return handler._close_done.wait(CLOSE_WAIT if timeout is None else timeout)
    finally:
        _WAITING.discard(me)


def refuse_on_own_thread(handler: SQLiteHandler, what: str) -> None:
    """Raise ``SQLiteLoggingError`` if called on a pipeline thread: ``what`` would wait for it."""
    if on_pipeline_thread():
        msg = (
            f"{what} of the handler of {handler.database} cannot run on the handler's own "
            "threads (in a hook, or a finalizer or __repr__ the writer or listener ran): "
            "it would wait for the thread it runs on; call it from another thread"
        )
        raise SQLiteLoggingError(msg)
