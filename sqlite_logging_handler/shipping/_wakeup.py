"""Waiting for the next commit to a database, as ``tail -f`` waits for a file to grow.

On Linux the kernel says when the database or its WAL is written (inotify, as GNU
tail uses): no polling, and the wake-up comes within milliseconds of a commit. Elsewhere
(or where inotify is unavailable) the files' size and time are compared every
``poll_interval`` seconds: two ``stat`` calls, not a query. Either way ``wake()`` (from
another thread or a signal handler) ends a wait at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import struct
import sys
import time

__all__ = ["ChangeWaiter"]

_IN_MODIFY, _IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x2, 0x8, 0x80, 0x100
_IN_NONBLOCK, _IN_CLOEXEC = 0o4000, 0o2000000
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then name)


class ChangeWaiter:
    """Ends ``wait()`` when the database at ``path`` (or its ``-wal``/``-journal``) changes.

    Args:
        path: the database file.
        poll_interval: seconds between two checks where inotify is not available.
    """

    def __init__(self, path: str, poll_interval: float = 0.5) -> None:
        self._path = os.path.abspath(path)
        self._names = {
            os.fsencode(os.path.basename(self._path) + s) for s in ("", "-wal", "-journal")
        }
        self.poll_interval = poll_interval
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._inotify = _watch(os.path.dirname(self._path))
        self._signature = self._stat()

    @property
    def uses_inotify(self) -> bool:
        """Whether changes are signalled by the kernel (else polled)."""
        return self._inotify is not None

    def wait(self, timeout: float) -> None:
        """Return when the database changes, on ``wake()``, or after ``timeout`` seconds.

        A change since the previous ``wait`` returns at once.
        """
        deadline = time.monotonic() + timeout
        if self._inotify is not None:
            self._wait_inotify(self._inotify, deadline)
            return
        while self._stat() == self._signature:
            left = deadline - time.monotonic()
            if left <= 0 or self.pause(min(left, self.poll_interval)):
                break
        self._signature = self._stat()

    def wake(self) -> None:
        """End the current (or the next) ``wait()`` now; safe from any thread."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def close(self) -> None:
        """Release the file descriptors. Idempotent."""
        for fd in (self._inotify, self._wake_r, self._wake_w):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._inotify, self._wake_r, self._wake_w = None, -1, -1

    def _wait_inotify(self, fd: int, deadline: float) -> None:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([fd, self._wake_r], [], [], left)
            if self._wake_r in ready:
                self._drain(self._wake_r)
                return
            if fd in ready and self._ours(self._drain(fd)):
                return

    def pause(self, timeout: float) -> bool:
        """Sleep ``timeout`` seconds unless woken; whether ``wake()`` ended it."""
        ready, _, _ = select.select([self._wake_r], [], [], max(0.0, timeout))
        if ready:
            self._drain(self._wake_r)
        return bool(ready)

    def _ours(self, events: bytes) -> bool:
        """Whether any inotify event in ``events`` names the database or its journal."""
        offset = 0
        while offset + _EVENT.size <= len(events):
            _, _, _, length = _EVENT.unpack_from(events, offset)
            name = events[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            if name in self._names:
                return True
            offset += _EVENT.size + length
        return False

    @staticmethod
    def _drain(fd: int) -> bytes:
        chunks = []
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def _stat(self) -> tuple[tuple[int, int], ...]:
        signature = []
        for suffix in ("", "-wal", "-journal"):
            try:
                st = os.stat(self._path + suffix)
            except OSError:
                signature.append((-1, -1))
            else:
                signature.append((st.st_size, st.st_mtime_ns))
        return tuple(signature)


def _watch(directory: str) -> int | None:
    """An inotify descriptor watching writes in ``directory``, or None if unavailable."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
    except (OSError, AttributeError):
        return None
    if fd < 0:
        return None
    mask = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
    if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
        os.close(fd)
        return None
    return fd
