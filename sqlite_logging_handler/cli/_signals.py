"""SIGTERM and SIGHUP end a command as Ctrl-C does: through its cleanup, then exit 128+N.

Python's default for SIGTERM (what ``kill``, ``timeout`` and service managers send) and
SIGHUP (a closed terminal) ends the process on the spot, without running ``finally``
blocks: a half-written output file would stay. While a command runs, these signals
raise ``Terminated`` instead, which unwinds like ``KeyboardInterrupt``, removing what
the command had half written, and ``main()`` exits with 143 (SIGTERM) or 129 (SIGHUP),
what a shell reports for a process the signal ended.

A command that handles a signal itself (``ship`` stops after its batch on SIGTERM)
installs its own handler inside, which takes precedence while it runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["Terminated", "ended_by_signals"]

_SIGNALS = tuple(
    number
    for number in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if number
)


class Terminated(BaseException):
    """A SIGTERM or SIGHUP arrived; ``status`` is the exit status a shell would report."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"ended by {signal.Signals(signum).name}")
        self.status = 128 + signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def ended_by_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``Terminated`` (main thread only).

    A signal whose handler is not the default (a caller's own, or ignored, as under
    ``nohup``) is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for number in _SIGNALS:
        if signal.getsignal(number) is signal.SIG_DFL:
            previous[number] = signal.signal(number, _raise)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
