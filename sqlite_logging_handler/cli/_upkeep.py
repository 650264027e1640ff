"""``prune``, ``backup``, ``vacuum`` and ``upgrade``: keeping the database in shape."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from typing import TextIO

from .. import maintenance, schema
from .._terminal import visible
from ..exceptions import SQLiteLoggingError
from ..query import LogStore
from ._args import Register, age, database, row_count
from ._summaries import size_text

__all__ = ["register"]


def register(command: Register) -> None:
    """Add ``prune``, ``backup``, ``vacuum`` and ``upgrade``."""
    prune = command("prune", _prune, "delete old records, in small transactions")
    prune.add_argument("--older-than", type=age, help="e.g. 30d, 12h")
    prune.add_argument("--keep-rows", type=row_count, help="keep only the newest N log rows")
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    backup = command("backup", _backup, "copy the database consistently, while it is written to")
    backup.add_argument("destination")
    command("vacuum", _vacuum, "rebuild the file to return free space to the file system")
    command("upgrade", _upgrade, "bring an older database (e.g. the seed's) to the current schema")


def _writable(args: argparse.Namespace) -> sqlite3.Connection:
    """A write connection to an existing log database (never creating one)."""
    path = database(args)
    if not os.path.isfile(path):
        msg = f"no log database at {path!r}"
        raise FileNotFoundError(msg)
    conn = schema.connect(schema.database_uri(path), timeout=30)
    if schema.schema_version(conn) != schema.SCHEMA_VERSION:
        conn.close()
        msg = (
            f"{path!r} is not at schema version {schema.SCHEMA_VERSION}: run 'sqlite-logs upgrade'"
        )
        raise SQLiteLoggingError(msg)
    return conn


def _prune(args: argparse.Namespace, out: TextIO) -> int:
    if args.older_than is None and args.keep_rows is None:
        print("sqlite-logs prune: error: give --older-than and/or --keep-rows", file=sys.stderr)
        return 2
    conn = _writable(args)
    try:
        deleted = maintenance.prune(
            conn, older_than=args.older_than, keep_rows=args.keep_rows, dry_run=args.dry_run
        )
        if not args.dry_run and any(deleted.values()):
            maintenance.reclaim_space(conn, pages=1_000_000)
    finally:
        conn.close()
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {deleted['logs']:,} log rows and {deleted['metrics']:,} metric rows", file=out)
    return 0


def _backup(args: argparse.Namespace, out: TextIO) -> int:
    with LogStore(database(args)) as store:
        store.backup(args.destination)
    source, target = visible(database(args)), visible(args.destination)
    print(f"backed up {source} to {target}", file=out)
    return 0


def _vacuum(args: argparse.Namespace, out: TextIO) -> int:
    path = database(args)
    before = sum(maintenance.file_sizes(path))
    conn = _writable(args)
    try:
        maintenance.vacuum(conn)
        maintenance.checkpoint(conn)
    finally:
        conn.close()
    after = sum(maintenance.file_sizes(path))
    print(f"vacuumed {visible(path)}: {size_text(before)} -> {size_text(after)}", file=out)
    return 0


def _upgrade(args: argparse.Namespace, out: TextIO) -> int:
    path = database(args)
    if not os.path.isfile(path):
        msg = f"no log database at {path!r}"
        raise FileNotFoundError(msg)
    conn = schema.connect(schema.database_uri(path), timeout=30)
    try:
        before = schema.schema_version(conn)
        schema.ensure_schema(conn)
        after = schema.schema_version(conn)
    finally:
        conn.close()
    path = visible(path)
    if before == after:
        print(f"{path} is already at schema version {after}", file=out)
    else:
        print(f"upgraded {path} from schema version {before} to {after}", file=out)
    return 0
