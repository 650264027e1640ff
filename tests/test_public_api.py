"""The package exports exactly its documented surface."""

from __future__ import annotations

import types

import sqlite_logging_handler as pkg


def test_all_public_names_are_exported():
    public = {
        name
        for name, value in vars(pkg).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
    }
    assert public | {"__version__"} == set(pkg.__all__)


def test_api_md_names_import():
    from sqlite_logging_handler import LogStore, SQLiteHandler, SQLiteLoggingError

    assert issubclass(SQLiteHandler, __import__("logging").Handler)
    assert issubclass(pkg.SchemaVersionError, SQLiteLoggingError)
    assert LogStore.__module__ == "sqlite_logging_handler.query"


def test_importing_the_package_does_not_import_the_cli():
    import subprocess
    import sys

    code = "import sys, sqlite_logging_handler; print('sqlite_logging_handler.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
