"""PostgresDestination: rows into PostgreSQL tables, each row once whatever is re-sent.

Each batch is one transaction: ``COPY`` into a temporary staging table, then one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` into ``logs``/``metrics``, whose primary
key is (``source_instance``, ``source_id``): the database's instance id and the row id.
A batch sent again after a crash inserts nothing. Extras and tags are ``jsonb``, times
``timestamptz``. Needs the ``[postgres]`` extra (``psycopg`` 3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import psycopg

from .. import schema
from .._text import readable_json_text
from .destination import Delivery, SourceInfo, public_url
from .errors import (
    DestinationRefusedError,
    DestinationUnavailableError,
    RowsRejectedError,
    one_line,
)
from .source import Row

__all__ = ["DDL", "PostgresDestination"]

_KEY = "source_instance uuid NOT NULL, source_id bigint NOT NULL, service_name text, host_name text"
#: The tables, as created when missing (docs/shipping.md shows them).
DDL = (
    f"""CREATE TABLE IF NOT EXISTS logs (
    {_KEY},
    "timestamp" timestamptz NOT NULL, level text NOT NULL, levelno integer,
    module text NOT NULL, message text NOT NULL, extra_data jsonb,
    thread_id bigint, thread_name text, process bigint, process_name text, task_name text,
    pathname text, filename text, source_module text, lineno integer, func_name text,
    exc_text text, stack_info text, template text, trace_id text, span_id text,
    created double precision,
    PRIMARY KEY (source_instance, source_id)
)""",
    f"""CREATE TABLE IF NOT EXISTS metrics (
    {_KEY},
    "timestamp" timestamptz NOT NULL, metric_name text NOT NULL,
    value double precision NOT NULL, unit text, kind text, tags jsonb,
    logger text, thread_id bigint, process bigint, created double precision,
    PRIMARY KEY (source_instance, source_id)
)""",
    'CREATE INDEX IF NOT EXISTS logs_timestamp ON logs ("timestamp")',
    'CREATE INDEX IF NOT EXISTS logs_levelno_timestamp ON logs (levelno, "timestamp")',
    'CREATE INDEX IF NOT EXISTS logs_host_timestamp ON logs (host_name, "timestamp")',
    "CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL",
    'CREATE INDEX IF NOT EXISTS metrics_name_timestamp ON metrics (metric_name, "timestamp")',
)

# The staging tables take the SQLite rows as they are, column for column.
_STAGE_TYPES = {
    "id": "bigint", "timestamp": "text", "level": "text", "thread_id": "bigint",
    "module": "text", "message": "text", "extra_data": "text", "levelno": "integer",
    "created": "double precision", "lineno": "integer", "process": "bigint",
    "metric_name": "text", "value": "double precision", "tags": "text",
}  # fmt: skip
_COLUMNS = {"logs": schema.LOG_COLUMNS, "metrics": schema.METRIC_COLUMNS}
_JSON = {"logs": "extra_data", "metrics": "tags"}
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('sqlite_logging_handler.shipping'))"
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
#: How a NUL character is stored: PostgreSQL text cannot hold U+0000.
NUL_STAND_IN = "\u2400"  # SYMBOL FOR NULL


def _stage_ddl(table: str) -> str:
    columns = ", ".join(f'"{c}" {_STAGE_TYPES.get(c, "text")}' for c in _COLUMNS[table])
    return f"CREATE TEMP TABLE IF NOT EXISTS ship_{table} ({columns}) ON COMMIT DELETE ROWS"


def _insert_sql(table: str) -> str:
    """The statement moving staged rows into ``table``, skipping rows already there."""
    columns = [c for c in _COLUMNS[table] if c not in ("id", "timestamp")]
    values = [f"{c}::jsonb" if c == _JSON[table] else f'"{c}"' for c in columns]
    return (
        f'INSERT INTO {table} (source_instance, source_id, service_name, host_name, "timestamp", '
        f"{', '.join(columns)}) "
        "SELECT %(instance)s, id, %(service)s, %(host)s, "
        "coalesce(to_timestamp(created), (\"timestamp\" || '+00')::timestamptz), "
        f"{', '.join(values)} FROM ship_{table} "
        "ON CONFLICT (source_instance, source_id) DO NOTHING"
    )


class PostgresDestination:
    """A PostgreSQL database at ``url`` (``postgresql://user@host:port/dbname``).

    The tables ``logs`` and ``metrics`` are created if missing, in the connection's
    schema (choose one with ``?options=-csearch_path%3Dname`` in the URL).

    Args:
        url: a libpq connection URL (or ``key=value`` string).
        connect_timeout: seconds to wait for a connection before retrying.
    """

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.key = f"postgres {public_url(url)}" if "://" in url else f"postgres {_safe_dsn(url)}"
        self.connect_timeout = connect_timeout
        #: Rows per transaction: fewer commits (each waits for the disk) than OTLP's 1000.
        self.batch_size = 5000
        self._conn: psycopg.Connection[Any] | None = None
        self._params: dict[str, Any] = {}

    def open(self, source: SourceInfo) -> None:
        """Connect, and create the tables if missing."""
        self._params = {
            "instance": source.instance_id,
            "service": source.service_name,
            "host": source.host_name,
        }
        self._connection()

    def send(self, table: str, rows: Sequence[Row]) -> Delivery:
        """Insert ``rows`` in one transaction; rows already there are counted, not repeated."""
        try:
            try:
                inserted = self._insert(table, rows)
            except psycopg.DataError:  # a NUL, text that is not JSON: store what can be
                inserted = self._insert(table, [_sanitized(table, row) for row in rows])
        except psycopg.Error as exc:
            raise self._classify(exc) from exc
        return Delivery(duplicates=len(rows) - inserted)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _insert(self, table: str, rows: Sequence[Row]) -> int:
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cursor:
            columns = ", ".join(f'"{c}"' for c in _COLUMNS[table])
            with cursor.copy(f"COPY ship_{table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(_insert_sql(table), self._params)
            return cursor.rowcount

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self._conn = None
        try:
            conn = psycopg.connect(
                self.url,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name="sqlite-logs ship",
            )
        except psycopg.Error as exc:
            raise self._classify(exc) from exc
        try:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(_LOCK)  # shippers starting together create the tables once
                for statement in (*DDL, _stage_ddl("logs"), _stage_ddl("metrics")):
                    cursor.execute(statement)
        except psycopg.Error as exc:
            conn.close()
            raise self._classify(exc) from exc
        self._conn = conn
        return conn

    def _classify(self, exc: psycopg.Error) -> Exception:
        """The shipper's view of a psycopg error: retry, refused rows, or stop."""
        where = (
            f"PostgreSQL at {public_url(self.url) if '://' in self.url else _safe_dsn(self.url)}"
        )
        message = f"{where}: {one_line(str(exc)) or type(exc).__name__}"
        if _configuration_error(exc):
            self.close()
            return DestinationRefusedError(message)
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            self.close()  # connection lost, server restarting, deadlock, serialization failure
            return DestinationUnavailableError(message)
        if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
            return RowsRejectedError(message)
        return DestinationRefusedError(message)


#: What libpq says (without an SQLSTATE: it fails before a session) when the URL or the
#: login is wrong: retrying cannot help, so these stop the shipper at once.
_CONFIGURATION_MESSAGES = (
    "password authentication failed",
    "no password supplied",
    'role "',  # role "x" does not exist
    'database "',  # database "x" does not exist
    "pg_hba.conf",
    "invalid sslmode",
    "invalid connection option",
    "invalid integer value",
    "invalid port number",
    'missing "="',
    "invalid uri",
    "invalid percent-encoded",
    "certificate",
    "server does not support ssl",
    "authentication method",
)


def _configuration_error(exc: psycopg.Error) -> bool:
    """Whether ``exc`` is a wrong URL or login (permanent), not a server that is away."""
    state = exc.sqlstate or ""
    if state.startswith("28") or state == "3D000":  # invalid authorization, unknown database
        return True
    if isinstance(exc, psycopg.ProgrammingError):  # a conninfo libpq cannot parse
        return True
    text = str(exc).lower()
    return isinstance(exc, psycopg.OperationalError) and any(
        m in text for m in _CONFIGURATION_MESSAGES
    )


def _sanitized(table: str, row: Row) -> Row:
    r"""``row`` with what PostgreSQL cannot store replaced.

    NUL characters become ``NUL_STAND_IN``; extras that are not JSON are stored as a
    JSON string; a JSON escape of a lone surrogate (which ``jsonb`` refuses) as the
    text ``\udXXX``, as the handler stores it.
    """
    values = list(row)
    json_index = _COLUMNS[table].index(_JSON[table])
    for index, value in enumerate(values):
        if isinstance(value, str):
            if index == json_index:
                values[index] = _json_text(value)
            elif "\0" in value:
                values[index] = value.replace("\0", NUL_STAND_IN)
    return tuple(values)


def _json_text(text: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        text = json.dumps(text)
    text = readable_json_text(text)  # jsonb refuses the escape of a lone surrogate
    return _NUL_ESCAPE.sub(lambda m: m.group(1) + "\\u2400", text)


def _safe_dsn(dsn: str) -> str:
    """A ``key=value`` connection string without its password."""
    return re.sub(r"password\s*=\s*('[^']*'|\S+)", "password=...", dsn)
