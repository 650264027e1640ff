"""Files written whole or not at all: a temporary file beside the destination, renamed.

Every file this package writes for a user (a backup, ``export -o``, ``report -o``) is
first written to a temporary file in the destination's directory, named
``.NAME.XXXXXXXXXXXX.partial``, and renamed onto the destination only once it is
complete. Whatever ends the write early (an error, a full disk, ``KeyboardInterrupt``,
the command line's SIGTERM and SIGHUP, which it turns into exceptions) removes the
temporary file: the destination is then as it was, absent or untouched. Only a
``kill -9`` or a power cut can leave a ``.partial`` file behind; the destination is
still whole.

- A symbolic link is written through: its target is replaced, the link stays.
- A destination that exists and is not a regular file (``/dev/null``, a FIFO, a
  terminal) is written directly: there is nothing to rename onto.
- A replaced file keeps its permission bits; a new one gets those ``open()`` gives
  (0666 less the umask).
- The directory must be writable, as for ``sed -i`` or an editor's save.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator

__all__ = ["SUFFIX", "direct", "target_of", "written_whole"]

#: How a temporary file's name ends: ``.NAME.XXXXXXXXXXXX.partial``.
SUFFIX = ".partial"
_SIDE_FILES = ("-journal", "-wal", "-shm")  # an SQLite database's files beside it


def target_of(destination: str) -> str:
    """The path that is replaced for ``destination``: a symbolic link's target."""
    return os.path.realpath(destination) if os.path.islink(destination) else destination


def direct(destination: str) -> bool:
    """Whether ``destination`` exists and is not a regular file (written directly)."""
    try:
        mode = os.stat(destination).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode)


def _partial_name(destination: str) -> str:
    """A new temporary file's path beside ``destination`` (nothing is created yet).

    The name is chosen before the file is created so that a caller's ``try`` covers
    the creation: a signal arriving just after it still finds the name to remove.
    """
    folder, name = os.path.split(os.path.abspath(destination))
    return os.path.join(folder, f".{name}.{secrets.token_hex(6)}{SUFFIX}")


def _create(partial: str, destination: str) -> None:
    """Create the empty file ``partial``, with ``destination``'s permission bits if it exists.

    Raises:
        FileExistsError: ``partial`` exists (never removed: it is not ours).
        OSError: the directory cannot take a new file.
    """
    try:
        mode: int | None = stat.S_IMODE(os.stat(destination).st_mode)
    except OSError:
        mode = None
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _discard(partial: str, exc: BaseException) -> None:
    """Remove the temporary file ``partial`` (and SQLite's files beside it) after ``exc``.

    Unless ``exc`` says ``partial`` existed before: then it is someone else's.
    """
    if isinstance(exc, FileExistsError) and exc.filename == partial:
        return
    for path in (partial, *(partial + suffix for suffix in _SIDE_FILES)):
        with contextlib.suppress(OSError):
            os.remove(path)


@contextlib.contextmanager
def written_whole(
    destination: str, place: Callable[[str, str], object] = os.replace
) -> Iterator[str]:
    """The path to write ``destination``'s new content to; put in its place at the end.

    The block writes the whole file at the path given (and closes it); then
    ``place(path, destination)`` puts it in place (default: renamed onto it; a backup
    over an existing database copies it in instead). If the block or ``place`` raises
    anything (``KeyboardInterrupt`` included), the temporary file is removed and
    ``destination`` is left as it was. A ``destination`` that is not a regular file
    (``direct``) is given as it is.

    Raises:
        OSError: the temporary file cannot be created or renamed.
    """
    target = target_of(destination)
    if direct(target):
        yield target
        return
    partial = _partial_name(target)
    try:
        _create(partial, target)
        yield partial
        place(partial, target)
    except BaseException as exc:
        _discard(partial, exc)
        raise
