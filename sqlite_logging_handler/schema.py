"""The tables, their columns and versions: the single source of the database layout.

Everything that names a table or a column lives here, so that the writer, the reader
and the tests agree by construction. Times are stored in UTC as SQLite's canonical
text (``YYYY-MM-DD HH:MM:SS.SSS``), so SQLite's own date functions compare correctly,
and the exact epoch is kept beside it in ``created``. No column is declared with a
``TIMESTAMP``/``DATE`` type: sqlite-worker connects with ``PARSE_DECLTYPES``, which
would try to convert such columns on read.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache

from . import _derived
from ._connections import (
    connect,
    database_uri,
    display_name,
    is_busy,
    memory_uri,
    retry_while_busy,
)
from ._pragmas import (
    DEFAULT_PRAGMAS,
    FILE_FORMAT_PRAGMAS,
    apply_pragmas,
    check_pragmas,
    pragmas_not_in_effect,
)
from ._stderr import write_once
from .exceptions import SchemaVersionError, SQLiteLoggingError

__all__ = [
    "DEFAULT_PRAGMAS",
    "FULL_TEXT_TABLE",
    "LOG_COLUMNS",
    "LOG_INSERT_COLUMNS",
    "LOG_RECORD_ATTRIBUTES",
    "METADATA_TABLE",
    "METRIC_COLUMNS",
    "METRIC_INSERT_COLUMNS",
    "METRIC_KINDS",
    "SCHEMA_VERSION",
    "SHIP_CURSOR_TABLE",
    "UpgradeProgress",
    "apply_pragmas",
    "check_pragmas",
    "check_writable",
    "connect",
    "database_uri",
    "display_name",
    "ensure_full_text",
    "ensure_schema",
    "has_full_text",
    "insert_sql",
    "instance_id",
    "is_busy",
    "memory_uri",
    "open_for_writing",
    "retry_while_busy",
    "schema_version",
]

#: Called during an upgrade with (what: "rows" or "indexes", done, total).
UpgradeProgress = Callable[[str, int, int], object]

#: Bumped on every change to the tables; ``ensure_schema`` upgrades older files.
#: 1: the first layout; 2: ``trace_id``/``span_id`` columns, the ``errors`` and
#: ``recent`` views; 3: ``metrics.kind``, the ``ship_cursors`` and ``log_metadata``
#: tables (the database's instance id), for shipping.
SCHEMA_VERSION = 3

#: Column name and declared type of ``logs``, in table order (the seed's seven first).
_LOG_TABLE: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("timestamp", "TEXT NOT NULL"),  # UTC, 'YYYY-MM-DD HH:MM:SS.SSS'
    ("level", "TEXT NOT NULL"),  # record.levelname
    ("thread_id", "INTEGER"),  # record.thread
    ("module", "TEXT NOT NULL"),  # record.name: the logger, as the seed maps it
    ("message", "TEXT NOT NULL"),  # record.getMessage() at emit time
    ("extra_data", "TEXT"),  # JSON of the extra= attributes, or NULL
    ("levelno", "INTEGER"),
    ("created", "REAL"),  # record.created, seconds since the epoch
    ("pathname", "TEXT"),
    ("filename", "TEXT"),
    ("source_module", "TEXT"),  # record.module
    ("lineno", "INTEGER"),
    ("func_name", "TEXT"),
    ("process", "INTEGER"),
    ("process_name", "TEXT"),
    ("thread_name", "TEXT"),
    ("task_name", "TEXT"),  # record.taskName (Python 3.12+), else NULL
    ("exc_text", "TEXT"),  # rendered traceback, not part of message
    ("stack_info", "TEXT"),  # rendered stack_info=True text
    ("template", "TEXT"),  # record.msg when args were merged into message
    ("trace_id", "TEXT"),  # OpenTelemetry trace id (32 hex digits), or NULL
    ("span_id", "TEXT"),  # OpenTelemetry span id (16 hex digits), or NULL
)

_METRIC_TABLE: tuple[tuple[str, str], ...] = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("timestamp", "TEXT NOT NULL"),
    ("metric_name", "TEXT NOT NULL"),
    ("value", "REAL NOT NULL"),
    ("unit", "TEXT"),
    ("tags", "TEXT"),  # JSON object, or NULL
    ("created", "REAL"),
    ("logger", "TEXT"),
    ("thread_id", "INTEGER"),
    ("process", "INTEGER"),
    ("kind", "TEXT"),  # one of METRIC_KINDS, set by MetricsAdapter; NULL if unknown
)

#: What a metric row is, as MetricsAdapter records it: ``increment`` a counter (a
#: delta), ``gauge`` a gauge, ``timer`` a timer (a duration), ``record`` a histogram
#: (a measurement, as OpenTelemetry's ``Histogram.record``).
METRIC_KINDS = ("counter", "gauge", "timer", "histogram")

#: Per shipping destination: the last row id of each table it acknowledged, and counts.
SHIP_CURSOR_TABLE = "ship_cursors"
#: Key/value facts about the database itself, such as its ``instance_id``.
METADATA_TABLE = "log_metadata"
_SHIPPING_DDL = (
    f"CREATE TABLE IF NOT EXISTS {SHIP_CURSOR_TABLE} ("
    "destination TEXT PRIMARY KEY, "  # e.g. 'otlp http://collector:4318/'
    "log_id INTEGER NOT NULL DEFAULT 0, "  # the last logs.id acknowledged
    "metric_id INTEGER NOT NULL DEFAULT 0, "  # the last metrics.id acknowledged
    "logs_shipped INTEGER NOT NULL DEFAULT 0, "
    "metrics_shipped INTEGER NOT NULL DEFAULT 0, "
    "logs_pruned INTEGER NOT NULL DEFAULT 0, "  # deleted before they were shipped
    "metrics_pruned INTEGER NOT NULL DEFAULT 0, "
    "logs_rejected INTEGER NOT NULL DEFAULT 0, "  # refused by the destination, skipped
    "metrics_rejected INTEGER NOT NULL DEFAULT 0, "
    "last_success REAL, "  # epoch seconds of the last acknowledgement
    "last_error TEXT, "
    "last_error_at REAL)",
    f"CREATE TABLE IF NOT EXISTS {METADATA_TABLE} (key TEXT PRIMARY KEY, value TEXT)",
)

LOG_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _LOG_TABLE)
METRIC_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _METRIC_TABLE)

#: The columns a row tuple fills, in row order: all but ``id``. The first value of a
#: row is the epoch, from which SQLite renders ``timestamp`` in C, in the writer. The
#: LogRecord attributes come first and in one run, so that one ``attrgetter`` call
#: collects them (the listener's hottest line); the values computed per record follow.
LOG_INSERT_COLUMNS: tuple[str, ...] = (
    "timestamp", "created", "level", "levelno", "thread_id", "module", "pathname",
    "filename", "source_module", "lineno", "func_name", "process", "process_name",
    "thread_name",
    "message", "extra_data", "task_name", "exc_text", "stack_info", "template",
    "trace_id", "span_id",
)  # fmt: skip
#: The LogRecord attributes behind the first columns of LOG_INSERT_COLUMNS.
LOG_RECORD_ATTRIBUTES: tuple[str, ...] = (
    "created", "created", "levelname", "levelno", "thread", "name", "pathname",
    "filename", "module", "lineno", "funcName", "process", "processName", "threadName",
)  # fmt: skip
METRIC_INSERT_COLUMNS: tuple[str, ...] = METRIC_COLUMNS[1:]

_TABLES = {"logs": _LOG_TABLE, "metrics": _METRIC_TABLE}
_INSERT_COLUMNS = {"logs": LOG_INSERT_COLUMNS, "metrics": METRIC_INSERT_COLUMNS}

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS idx_logs_timestamp ON logs(timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_logs_levelno_timestamp ON logs(levelno, timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_logs_module_timestamp ON logs(module, timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_logs_thread_timestamp ON logs(thread_id, timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_metrics_name ON metrics(metric_name, timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_metrics_timestamp ON metrics(timestamp)",
    # Partial: records without a trace cost nothing; ``trace_id = ?`` implies NOT NULL.
    "CREATE INDEX IF NOT EXISTS idx_logs_trace ON logs(trace_id, span_id) "
    "WHERE trace_id IS NOT NULL",
)

#: Views every database gets, for SQL tools and Datasette (``SELECT *`` is expanded
#: when the view is used, so columns added later appear in them). A user's own table
#: or view of the same name is left alone.
_VIEWS = (
    "CREATE VIEW IF NOT EXISTS errors AS SELECT * FROM logs WHERE levelno >= 40",
    "CREATE VIEW IF NOT EXISTS recent AS SELECT * FROM logs "
    "WHERE timestamp >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 hour')",
)

#: The opt-in full-text index over ``logs``, declared as sqlite-utils declares one
#: (``content="logs"``, triggers named ``logs_ai``/``logs_ad``/``logs_au``), which is
#: how sqlite-utils and Datasette find it.
FULL_TEXT_TABLE = "logs_fts"
_FULL_TEXT = (
    'CREATE VIRTUAL TABLE IF NOT EXISTS "logs_fts" USING FTS5 (\n'
    '    "message", "exc_text",\n'
    '    content="logs"\n'
    ")",
    'CREATE TRIGGER IF NOT EXISTS "logs_ai" AFTER INSERT ON "logs" BEGIN\n'
    '  INSERT INTO "logs_fts" (rowid, "message", "exc_text") '
    'VALUES (new.rowid, new."message", new."exc_text");\n'
    "END",
    'CREATE TRIGGER IF NOT EXISTS "logs_ad" AFTER DELETE ON "logs" BEGIN\n'
    '  INSERT INTO "logs_fts" ("logs_fts", rowid, "message", "exc_text") '
    'VALUES(\'delete\', old.rowid, old."message", old."exc_text");\n'
    "END",
    'CREATE TRIGGER IF NOT EXISTS "logs_au" AFTER UPDATE ON "logs" BEGIN\n'
    '  INSERT INTO "logs_fts" ("logs_fts", rowid, "message", "exc_text") '
    'VALUES(\'delete\', old.rowid, old."message", old."exc_text");\n'
    '  INSERT INTO "logs_fts" (rowid, "message", "exc_text") '
    'VALUES (new.rowid, new."message", new."exc_text");\n'
    "END",
)

#: SQL rendering an epoch (seconds, float) as the stored UTC timestamp text.
TIMESTAMP_SQL = "strftime('%Y-%m-%d %H:%M:%f', {}, 'unixepoch')"


def schema_version(conn: sqlite3.Connection) -> int:
    """``PRAGMA user_version`` of the database (0 for a new or a seed-written file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def ensure_schema(conn: sqlite3.Connection, progress: UpgradeProgress | None = None) -> None:
    """Create or upgrade the tables so the database is at ``SCHEMA_VERSION``.

    Idempotent and safe against other processes doing the same at once: the check is
    repeated inside a ``BEGIN IMMEDIATE`` transaction. A database written by a newer
    version of this package raises ``SchemaVersionError`` and is left untouched.
    ``progress``, if given, is called as an upgrade goes with (what, done, total):
    ``"rows"`` filled in, then ``"indexes"`` built.
    """
    _unless_done(conn, lambda: _current(conn), lambda c: _upgrade_to_current(c, progress))


def _current(conn: sqlite3.Connection) -> bool:
    """Whether the database is at ``SCHEMA_VERSION`` with the derived-column triggers.

    The triggers are added to databases of this version written before they existed,
    without a version bump: they change nothing for any reader or writer.
    """
    return _checked_version(conn) == SCHEMA_VERSION and _derived.has_triggers(conn)


def _upgrade_to_current(conn: sqlite3.Connection, progress: UpgradeProgress | None) -> None:
    _create_or_upgrade(conn, progress or (lambda *_: None))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _unless_done(
    conn: sqlite3.Connection,
    done: Callable[[], bool],
    change: Callable[[sqlite3.Connection], None],
) -> None:
    """Run ``change`` in a write transaction unless ``done()``, checked again inside it.

    The second check makes it safe against other processes making the same change.
    """
    if done():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not done():
            change(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _checked_version(conn: sqlite3.Connection) -> int:
    version = schema_version(conn)
    if version and not _table_names(conn) & {"logs", "metrics"}:
        # An application's database: its user_version is the application's own.
        msg = (
            f"the database has no log tables and its user_version is {version}, set by "
            "another application: SQLiteHandler keeps its schema version there, and "
            "will not overwrite that one (use a database file of its own)"
        )
        raise SQLiteLoggingError(msg)
    if version > SCHEMA_VERSION:
        msg = (
            f"the database has schema version {version}, newer than this package's "
            f"{SCHEMA_VERSION}; upgrade sqlite-logging-handler to write to it"
        )
        raise SchemaVersionError(msg)
    return version


def _table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _create_or_upgrade(conn: sqlite3.Connection, progress: UpgradeProgress) -> None:
    """Create missing tables, add missing columns and backfill rows of older layouts."""
    existing = _table_names(conn)
    filled = _derived.RowsFilled(conn, [table for table in _TABLES if table in existing], progress)
    for table, columns in _TABLES.items():
        if table not in existing:
            body = ", ".join(f"{name} {decl}" for name, decl in columns)
            conn.execute(f"CREATE TABLE {table} ({body})")
            continue
        present = set(_columns(conn, table))
        required = {"id", "timestamp", "message" if table == "logs" else "value"}
        if not required <= present:
            msg = (
                f"the database has a {table!r} table that is not a log table "
                f"(its columns are {sorted(present)})"
            )
            raise SQLiteLoggingError(msg)
        for name, decl in columns:
            if name not in present:
                decl = decl.replace(" NOT NULL", "")
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        _derived.backfill(conn, table, filled.add)
        if table == "metrics":
            # Only increment() records the unit "count"; other kinds cannot be told apart.
            conn.execute(
                "UPDATE metrics SET kind = 'counter' WHERE kind IS NULL AND unit = 'count'"
            )
    for built, statement in enumerate(_INDEXES, 1):
        conn.execute(statement)
        progress("indexes", built, len(_INDEXES))
    for statement in (*_VIEWS, *_derived.TRIGGERS, *_SHIPPING_DDL):
        conn.execute(statement)
    # The database's own identity: shipped records carry it, so copies dedupe alike.
    conn.execute(
        f"INSERT OR IGNORE INTO {METADATA_TABLE} (key, value) VALUES ('instance_id', ?)",
        (str(uuid.uuid4()),),
    )


def instance_id(conn: sqlite3.Connection) -> str | None:
    """The database's instance id (a UUID made with its tables), or None before version 3."""
    try:
        row = conn.execute(
            f"SELECT value FROM {METADATA_TABLE} WHERE key = 'instance_id'"
        ).fetchone()
    except sqlite3.OperationalError:  # no such table: an older layout
        return None
    return None if row is None else str(row[0])


def has_full_text(conn: sqlite3.Connection) -> bool:
    """Whether the database has the ``logs_fts`` full-text index."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = ? AND type = 'table'", (FULL_TEXT_TABLE,)
    ).fetchone()
    return row is not None


def ensure_full_text(conn: sqlite3.Connection) -> None:
    """Create ``logs_fts`` and its triggers if missing, indexing the rows already there.

    The triggers keep it in step with every later insert, delete and update, by any
    writer (also one without ``full_text=True``). Raises ``sqlite3.Error`` when this
    SQLite has no FTS5.
    """
    _unless_done(conn, lambda: has_full_text(conn), _create_full_text)


def _create_full_text(conn: sqlite3.Connection) -> None:
    for statement in _FULL_TEXT:
        conn.execute(statement)
    conn.execute(f"INSERT INTO {FULL_TEXT_TABLE}({FULL_TEXT_TABLE}) VALUES ('rebuild')")


@lru_cache(maxsize=64)
def insert_sql(table: str, rows: int) -> str:
    """An ``INSERT`` of ``rows`` rows into ``table``, each row's first value the epoch."""
    columns = _INSERT_COLUMNS[table]
    one = "(" + ", ".join([TIMESTAMP_SQL.format("?")] + ["?"] * (len(columns) - 1)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)


def open_for_writing(uri: str, pragmas: Mapping[str, object]) -> sqlite3.Connection:
    """A write connection to ``uri`` with ``pragmas`` applied and the schema in place.

    The first statement only reads the header, so a file that is not an SQLite
    database is refused before anything could write to it.
    """
    conn = connect(uri)
    try:
        schema_version(conn)
        if not _table_names(conn):
            # A new file: page_size and auto_vacuum only take effect before the first
            # table and before the switch to WAL; INCREMENTAL by default, so space
            # freed by pruning can be given back.
            defaults = {"auto_vacuum": "INCREMENTAL"}
            apply_pragmas(
                conn, {n: v for n in FILE_FORMAT_PRAGMAS if (v := pragmas.get(n, defaults.get(n)))}
            )
        apply_pragmas(conn, pragmas)
        ensure_schema(conn)
        for note in pragmas_not_in_effect(conn, pragmas):
            write_once(f"{uri} {note}", f"{display_name(uri)}: {note}")
    except BaseException:
        conn.close()
        raise
    return conn


def check_writable(conn: sqlite3.Connection) -> None:
    """Raise ``sqlite3.Error`` unless this connection can write (nothing is changed).

    ``BEGIN IMMEDIATE`` alone succeeds on a read-only file: only a real write fails,
    so one is made, and rolled back.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"PRAGMA user_version = {schema_version(conn)}")
    finally:
        conn.execute("ROLLBACK")
