"""Public methods called on the handler's own threads, and callers of a close under way.

A hook runs on the writer thread; a finalizer, an extra's ``__repr__`` or ``__str__`` may
run on the listener thread. Code there can call any public method of the handler, and
``logging.shutdown()`` (which flushes and closes every handler). None of them may wait
for the thread it runs on:

- ``close()`` on an own thread hands the closing to a thread of its own and returns:
  the pipeline goes on draining what was queued before the call, then ends as usual
  (the stop marker comes after those records). A later ``close()`` or ``flush()`` on
  another thread waits for that close to finish, so ``stats()`` adds up after it.
- ``flush()`` there returns False at once (it cannot wait for itself).
- ``maintain()``, ``backup()`` and the writer's ``call`` need the writer to run for
  them: there they raise ``SQLiteLoggingError`` at once, saying why, instead of
  waiting for their timeout.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ._reentrancy import on_pipeline_thread
from ._stderr import write_stderr
from .exceptions import SQLiteLoggingError

if TYPE_CHECKING:
    from .handler import SQLiteHandler

__all__ = ["close_from_own_thread", "refuse_on_own_thread", "wait_for_close"]

#: Seconds a caller waits at most for a close() under way in another thread.
CLOSE_WAIT = 35.0


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


def wait_for_close(handler: SQLiteHandler, timeout: float | None = None) -> bool:
    """Wait (at most ``timeout`` s) for a ``close()`` under way on another thread.

    Returns at once on the thread that is closing (a signal handler or a finalizer
    that interrupted its own ``close()``) and on the handler's own threads. Returns
    whether no close is under way any more.
    """
    if handler._closer == threading.get_ident() or on_pipeline_thread():
        return handler._close_done.is_set()
    return handler._close_done.wait(CLOSE_WAIT if timeout is None else timeout)


def refuse_on_own_thread(handler: SQLiteHandler, what: str) -> None:
    """Raise ``SQLiteLoggingError`` if called on a pipeline thread: ``what`` would wait for it."""
    if on_pipeline_thread():
        msg = (
            f"{what} of the handler of {handler.database} cannot run on the handler's own "
            "threads (in a hook, or a finalizer or __repr__ the writer or listener ran): "
            "it would wait for the thread it runs on; call it from another thread"
        )
        raise SQLiteLoggingError(msg)
