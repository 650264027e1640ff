"""Where a command writes: a file it names, or stdout for ``-`` (as tar, curl, sqlite-utils).

Every error about that file says which file and why, in one line: "cannot write
'/tmp': it is a directory", never a bare "[Errno 21]".
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import sys
from collections.abc import Iterator
from typing import TextIO

from .. import _whole
from .._terminal import visible
from ..exceptions import SQLiteLoggingError

__all__ = [
    "STDOUT", "note", "os_reason", "output_file", "reader_gone", "say_error", "silence",
    "to_stdout", "usage_error",
]  # fmt: skip

#: The output path that means stdout.
STDOUT = "-"


def to_stdout(path: str | None) -> bool:
    """Whether output given as ``path`` (None: not given) goes to stdout."""
    return path is None or path == STDOUT


@contextlib.contextmanager
def output_file(
    path: str | None, stdout: TextIO, *, newline: str | None = None
) -> Iterator[TextIO]:
    """The text file at ``path`` opened for writing, or ``stdout`` for None or ``-``.

    The file is written whole or not at all (``_whole``): into a temporary file beside
    it, renamed onto ``path`` when the block ends normally, removed when it raises
    (an error, a full disk, Ctrl-C, SIGTERM), leaving ``path`` as it was.

    Raises:
        SQLiteLoggingError: the file cannot be opened or written; names it and why.
    """
    if to_stdout(path):
        yield stdout
        return
    assert path is not None
    try:
        with _whole.written_whole(path) as partial:
            try:
                target = open(partial, "w", encoding="utf-8", newline=newline)  # noqa: SIM115
            except OSError as exc:
                raise SQLiteLoggingError(f"cannot write {path!r}: {os_reason(exc, path)}") from None
            with target:
                yield target
    except BrokenPipeError:
        raise  # stdout or stderr, not the file: cli.main() ends quietly with 141
    except OSError as exc:  # the disk filled up, a quota, an I/O error; no directory
        if exc.errno is None or (exc.filename is not None and not _ours(exc.filename, path)):
            raise
        raise SQLiteLoggingError(f"cannot write {path!r}: {os_reason(exc, path)}") from None


def usage_error(message: str, prog: str) -> None:
    """A usage error as every error is said: one line on stderr, with where help is.

    ``sqlite-logs: error: MESSAGE (see: sqlite-logs tail --help)``; the caller exits 2.
    ``prog`` is the command's own (``sqlite-logs tail``), for the hint.
    """
    say_error(f"sqlite-logs: error: {visible(message)} (see: {prog} --help)")


def note(text: str) -> None:
    """``sqlite-logs: TEXT`` on stderr: what a person is told beside the output.

    Like any output, a closed stderr ends the command with 141 (``cli.main``).
    """
    print(f"sqlite-logs: {visible(text)}", file=sys.stderr, flush=True)


def say_error(line: str) -> None:
    """``line`` on stderr; if nobody reads stderr any more, nothing (the exit status says it).

    An error keeps its own exit status (1, 2) even when its message cannot be written:
    only output that is not an error ends with 141 on a closed pipe (``cli.main``).
    """
    try:
        print(line, file=sys.stderr, flush=True)
    except BrokenPipeError:
        silence(sys.stderr, sys.__stderr__)


def silence(stream: TextIO | None, own: TextIO | None) -> None:
    """Point the process's own ``stream`` at /dev/null: flushing it at exit fails no more.

    ``own`` is the process's own (``sys.__stdout__``, ``sys.__stderr__``); a stream that
    is not it (a caller's StringIO) is left alone.
    """
    if stream is None or stream is not own:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def reader_gone(stream: TextIO) -> bool:
    """Whether ``stream`` is a pipe whose reader has closed its end (``| head -1`` done).

    A follower (``tail -f``) that prints nothing for a while would otherwise learn it
    only from its next write, which may never come; GNU ``tail -f`` looks the same way.
    Only a pipe is looked at (``poll()`` reports POLLERR on its write end once the
    reader has gone); a file, a terminal or a stream without a descriptor: False.
    """
    poll = getattr(select, "poll", None)
    try:
        descriptor = stream.fileno()
        if poll is None or not stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            return False
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return False
    poller = poll()
    poller.register(descriptor, 0)  # POLLERR and POLLHUP are always reported
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


def _ours(filename: object, path: str) -> bool:
    """Whether an error's ``filename`` is ``path`` or its temporary file."""
    name = os.fsdecode(filename) if isinstance(filename, str | bytes) else ""
    folder = os.path.dirname(os.path.abspath(path))
    return name == path or (
        os.path.dirname(os.path.abspath(name)) == folder and name.endswith(_whole.SUFFIX)
    )


def os_reason(exc: OSError, path: str) -> str:
    """Why an operation on ``path`` failed, in words (no errno number)."""
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    if isinstance(exc, FileNotFoundError):
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            return f"there is no directory {parent!r}"
        return "no such file"
    if isinstance(exc, NotADirectoryError):
        return "a part of the path is a file, not a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower() if exc.strerror else str(exc)
