"""One shipper per destination: an advisory lock file beside the database.

Two shippers following one database to one destination would each send every row (each
moves the same cursor after sending). The first takes an exclusive ``flock`` on
``.<database name>.ship-<hash>.lock`` in the database's directory (the hash names the
cursor; the leading dot keeps it out of ``rm app.db*``, which deletes a database with
its WAL files, so that deleting the database never deletes the lock of a shipper still
following its path); a second is refused at
once, with the first one's process id. The kernel drops the lock when its process dies
however it ends (SIGKILL too), so a lock is never stale; the file is removed when the
shipper closes (a killed one's file stays, unlocked, for the next shipper to reuse).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from urllib.parse import unquote, urlsplit

from .errors import ShippingError

if sys.platform != "win32":  # Windows: no lock (docs/shipping.md says so)
    import fcntl

__all__ = ["DestinationLock", "lock_path"]


def lock_path(database: str, destination: str) -> str:
    """The lock file of ``destination``'s cursor in ``database``."""
    digest = hashlib.sha256(destination.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    if database.startswith("file:"):  # an SQLite URI: its path, without the query
        database = unquote(urlsplit(database).path)
    folder, name = os.path.split(os.path.realpath(database))
    return os.path.join(folder, f".{name}.ship-{digest}.lock")


class DestinationLock:
    """Holds the lock of ``destination`` in ``database`` until ``release()``.

    Raises:
        ShippingError: another shipper (in this process or another) holds it.
        OSError: the lock file cannot be created (a read-only directory).
    """

    def __init__(self, database: str, destination: str) -> None:
        self.path = lock_path(database, destination)
        self._fd: int | None = None
        if sys.platform == "win32":  # pragma: no cover
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                who = f" (process {holder})" if holder else ""
                msg = (
                    f"another shipper{who} is already shipping {database} to {destination}: "
                    f"two would send every row twice; stop it first (lock: {self.path})"
                )
                raise ShippingError(msg) from None
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, self.path):  # not a file another shipper just removed
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and let the lock go. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if _same_file(fd, self.path):
                os.unlink(self.path)  # while locked: no one else holds this file
        os.close(fd)


def _same_file(fd: int, path: str) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _read_pid(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        return str(int(os.pread(fd, 32, 0).decode().strip()))
    return ""
