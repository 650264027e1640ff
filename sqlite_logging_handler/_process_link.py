"""One writer process and the pipes to it, from the application's side.

The process is a fresh interpreter (``sys.executable -m
sqlite_logging_handler._writer_process``), never a fork of the application: the
application may have threads running, whose locks a forked copy would inherit held.
Messages travel over raw ``os.pipe()`` pairs (data to it, answers from it, and a
control pipe whose one message, ``CLOSE``, must not wait behind the data); the
application writes with ``os.write`` on a non-blocking descriptor, waiting for room
with ``poll`` so that a write is bounded by a deadline, and a thread of its own
reads the answers. Buffered file objects are avoided on purpose: a forked child of the
application only has to ``os.close()`` its copies (``abandon``), so that the writer
process still sees end of file when the application dies, and nothing buffered is
ever written twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import math
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ._reentrancy import add_pipeline_thread
from ._wire import FrameReader

__all__ = ["START_TIMEOUT", "LinkClosedError", "WriterLink", "writer_command"]

#: Seconds a writer process has to say it is ready before it is given up on.
START_TIMEOUT = 20.0
#: Bytes asked for the pipe to the writer process (Linux; the default is 64 KiB).
PIPE_SIZE = 1 << 20
#: What the writer process runs.
WRITER_MODULE = "sqlite_logging_handler._writer_process"

_POLL_SLICE = 0.1


class LinkClosedError(Exception):
    """The writer process is gone (or given up on); what was written may be lost."""


def writer_command() -> list[str]:
    """The command that starts a writer process, or a ``LinkClosedError`` saying why not."""
    executable = sys.executable
    if getattr(sys, "frozen", False):
        msg = "a frozen application has no Python interpreter to start"
        raise LinkClosedError(msg)
    if not executable or not os.access(executable, os.X_OK):
        msg = f"sys.executable ({executable!r}) is not an executable file"
        raise LinkClosedError(msg)
    return [executable, "-m", WRITER_MODULE]


def _child_environment() -> dict[str, str]:
    """This process's environment, with this package and sqlite-worker first on the path.

    The writer process must import the very code the application runs, also when it
    was found through the application's own ``sys.path`` (a script's directory).
    """
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    worker = importlib.util.find_spec("sqlite_worker")  # found, not imported, here
    if worker is not None and worker.origin is not None:
        where = os.path.dirname(os.path.abspath(worker.origin))  # a module's directory
        if worker.submodule_search_locations:  # a package's: the directory above
            where = os.path.dirname(where)
        paths.insert(1, where)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


class WriterLink:
    """A writer process, its data pipe and the thread reading its answers.

    Args:
        on_message: ``on_message(link, message)`` for each answer, on the reading thread.
        on_exit: ``on_exit(link)`` once the answers have ended (the process closed
            its end: it ended, or died), on the reading thread.

    Answers are read from ``start_reading()`` on.

    Raises:
        LinkClosedError: no process could be started (the cause is in the message).
    """

    def __init__(
        self,
        hello: bytes,
        on_message: Callable[[WriterLink, Any], None],
        on_exit: Callable[[WriterLink], None],
    ) -> None:
        command = writer_command()
        data_read, self._data = os.pipe()
        ack_read, ack_write = os.pipe()
        control_read, self._control = os.pipe()
        _enlarge(self._data)
        theirs = (data_read, ack_write, control_read)
        try:
            self.process = subprocess.Popen(
                [*command, *map(str, theirs)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=theirs,
                env=_child_environment(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            for fd in (*theirs, self._data, ack_read, self._control):
                os.close(fd)
            raise LinkClosedError(f"{type(exc).__name__}: {exc}") from exc
        for fd in theirs:
            os.close(fd)
        os.set_blocking(self._data, False)
        self._acks = ack_read
        self.started = time.monotonic()
        self.ready = threading.Event()
        self.closed = False  # the data pipe is closed (end of input, or given up)
        self.gave_up = False  # killed for not getting ready in time
        self.ended = False  # it said ENDED: it ended as asked, after close()'s deadline
        self._on_message = on_message
        self._on_exit = on_exit
        self._write_lock = threading.Lock()
        self._control_lock = threading.Lock()
        try:
            self._write_all(memoryview(hello), math.inf)  # a new pipe has room for it
        except LinkClosedError:  # it has gone already
            self._discard()
            raise LinkClosedError(self.exit_cause()) from None
        self._watchdog = threading.Timer(START_TIMEOUT, self._check_ready)
        self._watchdog.daemon = True
        self._reader = threading.Thread(
            target=self._read_answers, name="sqlite-logging-writer-process", daemon=True
        )

    def start_reading(self) -> None:
        """Start reading its answers (and timing its start), once the owner knows the link.

        Not in the constructor: an answer read before the owner has stored the link
        (a fast ``READY`` on a busy machine) would find it not yet the owner's current
        link, and be dropped, or fail on an attribute not yet set.
        """
        self._watchdog.start()
        self._reader.start()

    @property
    def pid(self) -> int:
        """The writer process's id."""
        return self.process.pid

    def write(self, data: bytes, deadline: float = math.inf) -> None:
        """Write all of ``data`` (one framed message), waiting for room until ``deadline``.

        Raises:
            LinkClosedError: the process is gone or was given up on; or it has not said
                it is ready within ``START_TIMEOUT`` (it is then killed).
            TimeoutError: ``deadline`` passed; part of the message may be written.
        """
        with self._write_lock:
            self._write_all(memoryview(data), deadline)

    def _write_all(self, view: memoryview, deadline: float) -> None:
        while view:
            if self.closed:
                raise LinkClosedError("the writer process's input was closed")
            try:
                view = view[os.write(self._data, view) :]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:  # EPIPE: the process has gone
                raise LinkClosedError(str(exc)) from exc
            self._wait_for_room(deadline)

    def _wait_for_room(self, deadline: float) -> None:
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError("the writer process did not take the data in time")
        if self.overdue():
            self.give_up()
            raise LinkClosedError(f"the writer process was not ready within {START_TIMEOUT} s")
        poller = select.poll()
        poller.register(self._data, select.POLLOUT)
        poller.poll(1000 * min(_POLL_SLICE, deadline - now))

    def tell(self, control: bytes) -> None:
        """Write a framed message on the control pipe: read at once, not behind the data.

        Only small messages (``CLOSE``): an empty pipe has room for them.
        """
        with self._control_lock:
            if self._control >= 0:
                with contextlib.suppress(OSError):  # it has gone: it is counted
                    os.write(self._control, control)

    def close_input(self) -> None:
        """End of input: the process writes what it has and ends."""
        self._close_control()
        with self._write_lock:
            if not self.closed:
                self.closed = True
                os.close(self._data)

    def _close_control(self) -> None:
        with self._control_lock:
            fd, self._control = self._control, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def give_up(self) -> None:
        """Kill a process that did not get ready in time: it cannot serve."""
        self.gave_up = True
        self.kill()

    def exit_cause(self) -> str:
        """Why an ended process that never got ready did not serve, in a few words."""
        if self.gave_up:
            return "the writer process was not ready within the time allowed"
        return f"the writer process ended before it was ready (exit status {self.process.poll()})"

    def _discard(self) -> None:
        """Close the pipes and reap a process that cannot serve."""
        self._close_pipes()
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5.0)

    def failed_to_start(self) -> bool:
        """Whether the (ended) process never got to work: it exited or hung before ready.

        A process killed by someone else before it was ready died; it did not fail.
        """
        code = self.process.poll()
        if self.ready.is_set() or code is None:
            return False
        return self.gave_up or code >= 0

    def kill(self) -> None:
        """Stop the process now (SIGKILL)."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()

    def _check_ready(self) -> None:
        if not self.ready.is_set() and self.alive():
            self.give_up()  # its answers end: the transport writes in-process instead

    def mark_ready(self) -> None:
        """The process said it is ready (called by the answer-reading thread)."""
        self.ready.set()
        self._watchdog.cancel()

    def overdue(self) -> bool:
        """Whether the process has not said it is ready within ``START_TIMEOUT``."""
        return not self.ready.is_set() and time.monotonic() - self.started > START_TIMEOUT

    def join(self, deadline: float) -> bool:
        """Wait until the answers have ended and the process is reaped, by ``deadline``."""
        if threading.current_thread() is not self._reader:
            self._reader.join(max(0.0, deadline - time.monotonic()))
            if self._reader.is_alive():
                return False
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True

    def abandon(self) -> None:
        """In a forked child: close this process's copies of the pipes, nothing else.

        The writer process belongs to the parent; closing the copies lets it see end
        of file when the parent goes, whatever the child does.
        """
        self._close_pipes()

    def _close_pipes(self) -> None:
        """Close what is still open of the pipes, and forget their numbers.

        Each is closed once: a number closed already may have been reused since (by
        the application, or a ``multiprocessing`` pipe in a forked child), and
        closing it again would close that.
        """
        self._close_control()
        if not self.closed:  # no lock: in a forked child, a parent's thread may hold it
            self.closed = True
            with contextlib.suppress(OSError):
                os.close(self._data)
        self._close_acks()

    def _close_acks(self) -> None:
        fd, self._acks = self._acks, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _read_answers(self) -> None:
        # Hooks run on this thread: a record they log must not wait for the pipeline.
        add_pipeline_thread(threading.current_thread())
        reader = FrameReader(self._acks)
        try:
            while True:
                try:
                    message = reader.read()
                except OSError:
                    message = None
                if message is None:
                    break
                self._on_message(self, message)
        finally:
            self._watchdog.cancel()
            self._close_control()  # it has gone: nothing more to tell it
            self._close_acks()
            self._on_exit(self)


def _enlarge(fd: int) -> None:
    """Ask for a larger pipe, so that the listener rarely waits for the writer to read."""
    setter = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setter is None:
        return
    for size in (PIPE_SIZE, PIPE_SIZE // 4):
        try:
            fcntl.fcntl(fd, setter, size)
            return
        except OSError:
            continue
