"""Read connections across ``fork()``: closed around it, reopened on use.

SQLite state must not be carried into a child process (its locks would be held by a
thread that does not exist there). Every live reader is registered here; around a
fork, each one's lock is taken (waiting for a running query) and its connection closed.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol

__all__ = ["Reader", "live", "register", "unregister"]

_PAUSE_TIMEOUT = 5.0  # seconds a fork waits for one reader's running query


class Reader(Protocol):
    """What a reader offers: the lock its queries hold, and a way to drop its connection."""

    _lock: threading.RLock

    def _disconnect(self) -> None: ...


_LIVE: weakref.WeakSet[Reader] = weakref.WeakSet()
_paused: list[Reader] = []


def register(reader: Reader) -> None:
    """Close ``reader``'s connection around every fork from now on."""
    _LIVE.add(reader)


def live() -> list[Reader]:
    """The readers registered now."""
    return list(_LIVE)


def unregister(reader: Reader) -> None:
    """Stop doing so (``reader`` is closed)."""
    _LIVE.discard(reader)


def _before_fork() -> None:
    for reader in list(_LIVE):
        if reader._lock.acquire(timeout=_PAUSE_TIMEOUT):
            reader._disconnect()
            _paused.append(reader)


def _after_fork() -> None:
    while _paused:
        _paused.pop()._lock.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)
