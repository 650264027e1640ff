"""A writer process's control pipe: ``CLOSE``, and the first sign of its application's end.

The application writes ``CLOSE`` (its ``close()``'s deadline) on the control pipe and
closes it before it closes the data pipe; when it dies (SIGKILL, ``os._exit``, a crash)
the kernel closes both. ``Control`` reads the pipe on a thread of its own, so that
both reach the writer process at once, even while its main thread waits for room
behind batches that wait for a lock held by another connection.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

from . import _closing
from ._wire import CLOSE, FrameReader

__all__ = ["CLOSE_MARGIN", "CONTROL_WAIT", "Control", "close_deadline"]

#: Seconds, at most, kept between this process's end and the application's close() deadline.
CLOSE_MARGIN = 1.0
#: Seconds it waits, after the data's end, for the control pipe's (which came first).
CONTROL_WAIT = 1.0


class Control:
    """Reads the control pipe on a thread of its own: ``CLOSE`` must not wait behind data.

    The application writes ``CLOSE`` and closes the pipe before it closes the data
    pipe; when it dies, the kernel closes both: end of file without ``CLOSE`` is the
    first sign of its end this process gets.

    Args:
        fd: the control pipe's read end.
        closing: told ``CLOSE``'s deadline (this process's ``time.monotonic()``) at once.
        orphaned: told, at end of file without ``CLOSE``, the deadline
            ``DRAIN_TIMEOUT`` from now.
    """

    def __init__(
        self, fd: int, closing: Callable[[float], None], orphaned: Callable[[float], None]
    ) -> None:
        self._fd = fd
        self._closing = closing
        self._orphaned = orphaned
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._read, name="control", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        reader = FrameReader(self._fd)
        try:
            while (message := reader.read()) is not None:
                if message[0] == CLOSE:
                    self._deadline = close_deadline(message[1])
                    self._closing(self._deadline)
        except Exception:  # the application has gone, or wrote what cannot be read
            pass
        finally:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        if self._deadline is None:  # the application ended without closing
            self._deadline = time.monotonic() + _closing.DRAIN_TIMEOUT
            self._orphaned(self._deadline)

    def close_at(self) -> float | None:
        """After the data's end: the deadline, or None if the control pipe has not ended.

        The deadline is ``CLOSE``'s, or ``DRAIN_TIMEOUT`` after the application's end.
        """
        self._thread.join(CONTROL_WAIT)  # the control pipe was closed before the data's
        return self._deadline


def close_deadline(gives_up_at: float) -> float:
    """This process's ``time.monotonic()`` to end by, for a ``close()`` ending at ``gives_up_at``.

    ``gives_up_at`` is the application's ``time.time()``; a margin is kept (a quarter of
    what is left, at most ``CLOSE_MARGIN``) so that the counts and the cause reach it first.
    """
    left = max(0.0, gives_up_at - time.time())
    return time.monotonic() + left - min(CLOSE_MARGIN, left / 4)
