"""The package's exceptions.

Hierarchy::

    SQLiteLoggingError          a log database cannot be used as asked
     └── SchemaVersionError     the database was written by a newer (or older) schema
"""

from __future__ import annotations

__all__ = ["SQLiteLoggingError", "SchemaVersionError"]


class SQLiteLoggingError(Exception):
    """Base class of the package's own exceptions."""


class SchemaVersionError(SQLiteLoggingError):
    """The database's schema version is not the one this package reads or writes."""
