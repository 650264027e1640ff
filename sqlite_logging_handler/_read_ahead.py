"""The writer process's read-ahead: the data pipe emptied while the writer is busy.

Without it, the writer process reads the next message only once its writer has room
for the rows (a few batches), so a pause of the writer (a WAL checkpoint, a slow
disk) fills the pipe, then the application's queue, where a waiting record costs
about 1 KB (its ``LogRecord``) instead of the 130 bytes or so it takes pickled. A
thread of its own keeps reading whole messages, still pickled, into a bounded
buffer (``READ_AHEAD_BYTES``); the main thread unpickles them in order. Once the
buffer is full the thread stops reading, and the pipe and then the application's
queue hold the rest, as before.
"""

from __future__ import annotations

import pickle
import threading
from collections import deque
from typing import Any

from ._wire import FrameReader

__all__ = ["READ_AHEAD_BYTES", "ReadAhead"]

#: Bytes of pickled messages read ahead at most (about 130 bytes a record).
READ_AHEAD_BYTES = 8 << 20


class ReadAhead:
    """Reads messages from ``reader`` on a thread of its own; ``read()`` returns them in order.

    Args:
        reader: the data pipe's reader, after the messages read without it (``HELLO``).
        limit: bytes of unread messages held at most before the thread waits.
    """

    def __init__(self, reader: FrameReader, limit: int = READ_AHEAD_BYTES) -> None:
        self._reader = reader
        self._limit = limit
        self._frames: deque[bytes] = deque()
        self._held = 0
        self._ended = False  # end of file (or a read error, in _error) came after _frames
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="read-ahead", daemon=True)
        self._thread.start()

    def read(self) -> Any:
        """The next message; None at end of file. Raises what reading the pipe raised."""
        with self._changed:
            while not self._frames and not self._ended:
                self._changed.wait()
            if not self._frames:
                if self._error is not None:
                    raise self._error
                return None
            payload = self._frames.popleft()
            self._held -= len(payload)
            self._changed.notify_all()
        return pickle.loads(payload)

    def _run(self) -> None:
        reader, frames, changed = self._reader, self._frames, self._changed
        try:
            while (payload := reader.read_payload()) is not None:
                with changed:
                    while self._held >= self._limit:
                        changed.wait()
                    frames.append(payload)
                    self._held += len(payload)
                    changed.notify_all()
        except BaseException as exc:  # an OSError: the main thread raises it, in order
            self._error = exc
        finally:
            with changed:
                self._ended = True
                changed.notify_all()
