"""What keeps the caller's path re-entrant: the handler's own threads, and lock-free counts.

A record can reach ``emit`` from code that interrupts or serves the handler: a signal
handler (Python runs it between two bytecodes of the main thread, possibly inside
``emit`` itself), a finalizer the cyclic GC runs on whichever thread allocates (the
listener and the writer included), a hook on the writer thread. Such a record must
never wait for something its own thread has to do: the room that the listener makes,
or a lock that the interrupted code holds. So the caller's path takes no lock it could
already hold, counts with a ``tally()`` instead of a counter under a lock, and asks
``on_pipeline_thread()`` before it would wait for room in the queue.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import deque

__all__ = [
    "add",
    "add_pipeline_thread",
    "on_pipeline_thread",
    "pipeline_thread_ids",
    "tally",
    "value",
]

# The threads of every handler's pipeline (listeners and writers): a record logged on one
# of them never waits for a queue, or for a flush, since it may be the one to drain it.
# Thread objects, not idents: a new thread may reuse the ident of one that ended.
_PIPELINE_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def add_pipeline_thread(thread: threading.Thread) -> None:
    """Count ``thread`` as one of a handler's own threads (until it is gone)."""
    _PIPELINE_THREADS.add(thread)


def on_pipeline_thread() -> bool:
    """Whether the calling thread is a listener or writer thread of some handler."""
    return threading.current_thread() in _PIPELINE_THREADS


def pipeline_thread_ids() -> set[int | None]:
    """The ``threading.get_ident()`` of every listener and writer thread running now."""
    return {thread.ident for thread in list(_PIPELINE_THREADS)}


def tally() -> itertools.count[int]:
    """A count that any thread, signal handler or finalizer adds to without a lock.

    Add one with ``next(count)``: ``itertools.count``'s own C step, atomic under the
    GIL, with no Python frame and no call through ``type.__call__`` (so it works even
    at the recursion limit, where calling a method, or ``next`` on a subclass, would
    raise), and nothing a re-entrant caller could find held.
    """
    return itertools.count()


def add(count: itertools.count[int], amount: int) -> None:
    """Add ``amount`` to a ``tally()``."""
    deque(itertools.islice(count, amount), maxlen=0)


def value(count: itertools.count[int]) -> int:
    """The value of a ``tally()``: how many times it was added to."""
    return int(repr(count)[6:-1])  # "count(n)"; pickling a count is deprecated since 3.12
