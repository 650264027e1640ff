"""The package's exceptions.

Hierarchy::

    SQLiteLoggingError          a log database cannot be used as asked
     └── SchemaVersionError     the database was written by a newer (or older) schema
    TimeTypeError               a since/until of a type that is no time (TypeError, ValueError)
"""

from __future__ import annotations

__all__ = ["SQLiteLoggingError", "SchemaVersionError", "TimeTypeError"]


class SQLiteLoggingError(Exception):
    """Base class of the package's own exceptions."""


class SchemaVersionError(SQLiteLoggingError):
    """The database's schema version is not the one this package reads or writes."""


class TimeTypeError(TypeError, ValueError):
    """A ``since``/``until`` of a type that is no time (a ``date``, a bool, a list).

    A ``TypeError``, as Python's convention has it for a value of the wrong type, and a
    ``ValueError``, as the public contract (API.md) names for every bound it cannot
    read: ``except`` either one catches it (as ``io.UnsupportedOperation`` is both an
    ``OSError`` and a ``ValueError``).
    """
