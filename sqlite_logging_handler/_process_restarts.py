"""What happens when a writer process dies, or cannot be started: the restart policy.

The base of ``_process_transport.ProcessTransport``. A writer process that dies is
replaced (after ``RESTART_PAUSES``), and sent everything the ledger keeps; it skips
the rows its predecessor had committed (``_sessions``). Deaths of writer processes
that were ready and settled nothing count towards giving up the oldest message
(``MAX_DEATHS``), so that a message that kills every writer process is not sent for
ever; deaths before they get ready count towards writing in-process instead
(``MAX_UNREADY``), as does a writer process that cannot be started at all. These run
holding the transport's send lock, on whichever thread noticed the death: the listener
(a write failed), the thread reading the answers (end of file), or ``flush()``
(``check``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from . import _sessions
from ._kept import Ledger
from ._process_link import LinkClosedError, WriterLink
from ._stderr import write_stderr
from ._transport import ThreadTransport, WriterSpec
from ._wire import CALL, HELLO, any_frame
from ._writer import AfterCommit

__all__ = ["MAX_DEATHS", "MAX_UNREADY", "RESTART_PAUSES", "Restarts"]

#: Seconds to wait before each restart of a writer process that died (the last
#: repeats): a process killed for its memory gets a moment before the next one.
RESTART_PAUSES = (0.0, 0.1, 0.5, 2.0)
#: Deaths of writer processes that were ready (had been sent what is kept), without
#: anything settled in between, after which the oldest unsettled message is given up
#: (its rows counted as failed): a message that kills every writer process must not
#: be sent again for ever.
MAX_DEATHS = 3
#: Writer processes in a row that die before they are ready (killed as soon as they
#: start, say) after which the handler writes in this process instead.
MAX_UNREADY = 5


class Restarts:
    """Replacing writer processes, and falling back to a writer thread (see above)."""

    _spec: WriterSpec
    _session: str
    _after_commit: AfterCommit | None
    _ledger: Ledger
    _send: threading.RLock
    _link: WriterLink
    _thread: ThreadTransport | None
    _closing: bool
    _close_message: bytes | None
    _stopped: bool
    _restarting: WriterLink | None
    _ever_ready: bool
    _deaths: int
    _unready: int
    _on_message: Callable[[WriterLink, tuple[Any, ...]], None]

    def check(self) -> None:
        """Restart a writer process that died; give up on one that never got ready.

        ``flush()`` calls this while it waits.
        """
        link = self._link
        if self._thread is not None:
            self._thread.check()
        elif link.overdue():
            link.give_up()  # its reading thread then falls back to a writer thread
        elif not link.alive() and not link.closed and self._send.acquire(timeout=0.1):
            try:
                self._restart(link)
            finally:
                self._send.release()

    def _on_exit(self, link: WriterLink) -> None:
        while link is self._link and self._restarting is not link and not self._stopped:
            if self._closing_done(link):
                return
            if self._send.acquire(timeout=0.1):  # else whoever holds it may restart it
                try:
                    self._restart(link)
                finally:
                    self._send.release()
                return

    def _closing_done(self, link: WriterLink) -> bool:
        """Whether ``link`` ended as asked: everything settled, or it said ``ENDED``."""
        return self._closing and (link.ended or self._ledger.empty())

    def _start(self, *, resuming: bool) -> WriterLink:
        # The numbers settled so far: a new writer process counts, among the rows it
        # skips as committed already, only those beyond (the dead one reported them).
        hello = any_frame((HELLO, self._spec, self._session, resuming, self._ledger.settled))
        return WriterLink(hello, self._on_message, self._on_exit)

    def _restart(self, dead: WriterLink) -> None:
        """A writer process died: start another and send it what is kept (holding _send)."""
        if dead is not self._link or self._thread is not None or self._stopped:
            return  # someone else restarted it already, or close() gave up on it
        self._restarting = dead
        if not dead.join(time.monotonic() + 1.0):  # its last answers are read first
            dead.kill()
            dead.join(time.monotonic() + 5.0)
        if dead.failed_to_start():
            self._fall_back(dead.exit_cause())
            return
        self._ledger.writer_ended()
        if dead.ready.is_set():  # it had what is kept, and settled none of it
            self._deaths += 1
        else:
            self._unready += 1
        deaths, unready = self._deaths, self._unready
        if unready >= MAX_UNREADY:
            self._fall_back(f"{unready} writer processes in a row died before they were ready")
            return
        if deaths >= MAX_DEATHS:
            self._deaths = 0
            rows = self._ledger.give_up_oldest()
            if rows:
                write_stderr(
                    f"{rows} record(s) could not be written to {self._spec.label}: "
                    f"{deaths} writer processes died writing them"
                )
        time.sleep(RESTART_PAUSES[min(deaths + unready, len(RESTART_PAUSES)) - 1])
        write_stderr(f"the writer process of {self._spec.label} died; starting another")
        try:
            link = self._start(resuming=True)
        except LinkClosedError as exc:
            self._fall_back(str(exc))
            return
        self._link = link
        link.start_reading()  # only now: its answers are for the current link
        self._resend(link)

    def _resend(self, link: WriterLink) -> None:
        self._ledger.fail_calls_sent()
        try:
            for message in self._ledger.kept():
                if message.kind != CALL:
                    message.sent_to = link
                    link.write(message.data)
            if self._closing:
                # As close() told its predecessor: its end of input is no application's
                # death (that would give it DRAIN_TIMEOUT and its own line on stderr).
                if self._close_message is not None:
                    link.tell(self._close_message)
                link.close_input()
        except LinkClosedError:
            pass  # this one died too: its reading thread restarts again

    def _fall_back(self, cause: str) -> None:
        """Write in this process from now on; what is kept goes to a writer thread."""
        write_stderr(
            f"cannot start a writer process for {self._spec.label} ({cause}); "
            "writing in this process instead"
        )
        thread = ThreadTransport(self._spec, self._after_commit)
        self._ledger.replay(thread, self._committed(thread))
        self._thread = thread
        if self._closing:
            self._link.close_input()

    def _committed(self, thread: ThreadTransport | None = None) -> tuple[int, int]:
        """How far writer processes committed (read only if one ever got ready)."""
        if not self._ever_ready:
            return (0, 0)
        if thread is not None:  # through the writer thread's connection
            try:
                result: tuple[int, int] = thread.call(
                    _sessions.last_settled, (self._session,), 30.0
                )
            except Exception:
                return (0, 0)
            return result
        return _sessions.read_last_settled(self._spec.uri, self._session)
