"""Helpers of the ``tail -f``/``-F`` tests (test_cli_follow_*.py): a follower, a writer.

A ``Follower`` runs ``sqlite-logs tail`` as a user does, in a subprocess on a real
database, and reads what it prints line by line as it prints it.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO

from sqlite_logging_handler import SQLiteHandler

from .conftest import PYTHON, child_env, make_logger

WAIT = 60.0  # seconds: a watchdog, never reached when the follower works
EOF = "<EOF>"  # the line read once the follower has closed its output


def write(db: Path, *messages: str, level: int = logging.WARNING) -> None:
    """Log ``messages`` into ``db`` and close, as an application's run does."""
    handler = SQLiteHandler(db)
    log = make_logger(handler)
    for message in messages:
        log.log(level, message)
    handler.close()


class Follower:
    """``sqlite-logs --db DB tail ARGS``, its stdout and stderr read line by line.

    Args:
        db: the database followed.
        args: ``tail``'s arguments (``-f``, ``-F``, ``-n 1``, filters).
        merged: stderr goes into stdout's pipe, so that ``out`` holds the notes and
            the records in the order the user sees them (``err`` then stays empty).
    """

    def __init__(self, db: Path, *args: str, merged: bool = False) -> None:
        self.process = subprocess.Popen(
            [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db), "tail", *args],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            text=True,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        pipes = [(self.process.stdout, self.out), (self.process.stderr, self.err)]
        self.pumps = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in pipes
            if stream is not None
        ]
        for pump in self.pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(EOF)

    def line(self, timeout: float = WAIT) -> str:
        """The next line of stdout, as it is."""
        return self.out.get(timeout=timeout)

    def note(self) -> str:
        """The next line of stderr (a note, or an error)."""
        return self.err.get(timeout=WAIT)

    def messages(self, count: int) -> list[str]:
        """The messages of the next ``count`` records."""
        return [message(self.line()) for _ in range(count)]

    def next(self, timeout: float = WAIT) -> str:
        """The next line of stdout: a record's message, or a note (or ``EOF``) as it is."""
        line = self.line(timeout)
        return line if line.startswith(("sqlite-logs:", EOF)) else message(line)

    def until(self, last: str) -> list[str]:
        """The next lines (see ``next``) up to and including ``last``."""
        seen = [self.next()]
        while seen[-1] != last:
            assert seen[-1] != EOF, seen
            seen.append(self.next())
        return seen

    def stop(self, *, terminate: bool = True) -> int:
        """End the follower (unless it ends by itself); its exit status."""
        if terminate and self.process.poll() is None:
            self.process.terminate()
        status = self.process.wait(timeout=WAIT)
        for pump in self.pumps:
            pump.join(timeout=WAIT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return status

    def unread(self) -> list[str]:
        """End the follower (``stop``); the lines of stdout it wrote that were not read."""
        self.stop()
        rest = []
        while (line := self.next(timeout=0)) != EOF:
            rest.append(line)
        return rest


def message(line: str) -> str:
    """The message of a record's line as ``tail`` prints it."""
    return line.rsplit("] ", 1)[1]
