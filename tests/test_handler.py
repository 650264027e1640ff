"""SQLiteHandler: records land in the database, nothing is lost, the caller is never hurt."""

from __future__ import annotations

import json
import logging
import logging.config
import sqlite3
import threading
import time
import weakref
from datetime import UTC, datetime

import pytest

from sqlite_logging_handler import SQLiteHandler
from sqlite_logging_handler.schema import LOG_COLUMNS

from .conftest import make_logger, rows


def test_dictconfig_on_root_stores_the_record(db_path):
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,  # "api" may exist from another test
            "handlers": {
                "db": {
                    "class": "sqlite_logging_handler.SQLiteHandler",
                    "database": str(db_path),
                    "level": "DEBUG",
                }
            },
            "root": {"handlers": ["db"], "level": "DEBUG"},
        }
    )
    logging.getLogger("api").info("Request processed", extra={"user_id": 12345, "status_code": 200})
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, SQLiteHandler)
    assert handler.flush()

    (row,) = rows(db_path)
    assert (row["level"], row["module"], row["message"]) == ("INFO", "api", "Request processed")
    assert json.loads(row["extra_data"]) == {"user_id": 12345, "status_code": 200}
    assert row["thread_id"] == threading.get_ident()


def test_dictconfig_passes_every_option(db_path):
    logging.config.dictConfig(
        {
            "version": 1,
            "handlers": {
                "db": {
                    "class": "sqlite_logging_handler.SQLiteHandler",
                    "database": str(db_path),
                    "batch_size": 7,
                    "flush_interval": 0.25,
                    "queue_size": 1000,
                    "overflow": "drop",
                    "pragmas": {"cache_size": -1000},
                }
            },
            "root": {"handlers": ["db"], "level": "INFO"},
        }
    )
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, SQLiteHandler)
    assert (handler.batch_size, handler.flush_interval) == (7, 0.25)
    assert (handler.queue_size, handler.overflow) == (1000, "drop")


def test_the_seed_columns_come_first_then_every_record_field(handler, logger, db_path):
    logger.warning("disk %s at %d%%", "/var", 91)
    handler.flush()

    (row,) = rows(db_path)
    assert tuple(row.keys()) == LOG_COLUMNS
    assert LOG_COLUMNS[:7] == (
        "id",
        "timestamp",
        "level",
        "thread_id",
        "module",
        "message",
        "extra_data",
    )
    assert row["message"] == "disk /var at 91%"
    assert row["template"] == "disk %s at %d%%"
    assert row["levelno"] == logging.WARNING
    assert row["extra_data"] is None
    assert row["func_name"] == "test_the_seed_columns_come_first_then_every_record_field"
    assert row["filename"] == "test_handler.py"
    assert row["source_module"] == "test_handler"
    assert row["lineno"] > 0
    assert row["thread_name"] == threading.current_thread().name
    assert row["process_name"] == "MainProcess"


def test_timestamp_is_utc_text_that_sqlite_date_functions_compare(handler, logger, db_path):
    before = time.time()
    logger.info("now")
    handler.flush()

    (row,) = rows(db_path)
    stored = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    assert abs(stored.timestamp() - row["created"]) < 0.001
    assert row["created"] >= before
    recent = rows(
        db_path, "SELECT COUNT(*) FROM logs WHERE timestamp >= datetime('now', '-1 hour')"
    )
    assert recent[0][0] == 1
    future = rows(
        db_path, "SELECT COUNT(*) FROM logs WHERE timestamp >= datetime('now', '+1 minute')"
    )
    assert future[0][0] == 0


def test_flush_makes_every_record_visible_to_a_new_connection(handler, logger, db_path):
    for i in range(1234):
        logger.info("record %d", i)
    assert handler.flush() is True

    stored = rows(db_path)
    assert [r["message"] for r in stored] == [f"record {i}" for i in range(1234)]
    stats = handler.stats()
    assert stats["emitted"] == stats["written"] == 1234
    assert stats["queue_depth"] == 0


def test_many_records_share_a_transaction(db_path):
    handler = SQLiteHandler(db_path, batch_size=100, flush_interval=5)
    log = make_logger(handler)
    for i in range(1000):
        log.info("r%d", i)
    handler.flush()
    assert handler.stats()["written"] == 1000
    assert handler.stats()["batches"] <= 11
    handler.close()


def test_a_record_is_committed_within_flush_interval_without_flush(db_path):
    handler = SQLiteHandler(db_path, batch_size=500, flush_interval=0.1)
    log = make_logger(handler)
    log.info("lonely record")
    deadline = time.monotonic() + 5
    while not rows(db_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    waited = 5 - (deadline - time.monotonic())
    handler.close()
    assert [r["message"] for r in rows(db_path)] == ["lonely record"]
    assert waited < 2


def test_sixteen_threads_lose_nothing_and_keep_their_order(handler, logger, db_path):
    per_thread = 2000
    start = threading.Barrier(16)

    def work(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            logger.info("%d", i, extra={"worker": n})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handler.flush()

    stored = rows(db_path, "SELECT id, message, extra_data FROM logs ORDER BY id")
    assert len(stored) == 16 * per_thread
    by_worker: dict[int, list[int]] = {}
    for row in stored:
        by_worker.setdefault(json.loads(row["extra_data"])["worker"], []).append(
            int(row["message"])
        )
    assert {n: seq for n, seq in by_worker.items()} == {
        n: list(range(per_thread)) for n in range(16)
    }


def test_message_is_captured_at_emit_time(handler, logger, db_path):
    items = ["before"]
    logger.info("items: %s", items)
    items[0] = "after"
    handler.flush()
    assert rows(db_path)[0]["message"] == "items: ['before']"


def test_extras_round_trip_and_odd_values_are_kept_as_repr(handler, logger, db_path):
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    loop: dict[str, object] = {}
    loop["self"] = loop
    extra = {
        "user_id": 12345,
        "nested": {"a": [1, 2.5, None, True], "b": "ü"},
        "thing": Thing(),
        "big": 2**70,
        "nan": float("nan"),
        "loop": loop,
        "level": "not the column",
    }
    logger.info("extras", extra=extra)
    handler.flush()

    stored = json.loads(rows(db_path)[0]["extra_data"])
    assert stored["user_id"] == 12345
    assert stored["nested"] == {"a": [1, 2.5, None, True], "b": "ü"}
    assert stored["thing"] == "<Thing>"
    assert stored["big"] == 2**70
    assert stored["nan"] == "nan"
    assert stored["loop"] == repr(loop)
    assert stored["level"] == "not the column"
    assert rows(db_path)[0]["level"] == "INFO"


def test_exception_and_stack_text_have_their_own_columns(handler, logger, db_path):
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("it failed")
    logger.info("where am I", stack_info=True)
    handler.flush()

    failed, traced = rows(db_path)
    assert failed["message"] == "it failed"
    assert failed["level"] == "ERROR"
    assert failed["exc_text"].startswith("Traceback (most recent call last):")
    assert failed["exc_text"].endswith("ValueError: bad value")
    assert traced["message"] == "where am I"
    assert traced["stack_info"].startswith("Stack (most recent call last):")
    assert "test_exception_and_stack_text_have_their_own_columns" in traced["stack_info"]


def test_the_handlers_formatter_renders_the_exception(db_path):
    class Short(logging.Formatter):
        def formatException(self, ei):
            return f"{ei[0].__name__} (short)"

    handler = SQLiteHandler(db_path)
    handler.setFormatter(Short())
    log = make_logger(handler)
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("math")
    handler.close()
    assert rows(db_path)[0]["exc_text"] == "ZeroDivisionError (short)"


def test_a_message_that_cannot_be_formatted_gets_handle_error(handler, logger, db_path, capsys):
    logger.info("a number: %d", "not a number")
    logger.info("still fine")
    assert handler.flush() is True  # stored as unmerged: nothing failed

    messages = [r["message"] for r in rows(db_path)]
    assert messages[0].startswith("[unmerged] a number: %d | args: ('not a number',) | ")
    assert messages[1] == "still fine"
    assert capsys.readouterr().err.count("--- Logging error ---") == 1
    stats = handler.stats()
    assert (stats["emitted"], stats["written"], stats["failed"]) == (2, 2, 0)


def test_raise_exceptions_false_silences_handle_error(handler, logger, capsys, monkeypatch):
    monkeypatch.setattr(logging, "raiseExceptions", False)
    logger.info("%d", "x")
    assert handler.flush()
    assert capsys.readouterr().err == ""
    assert (handler.stats()["written"], handler.stats()["failed"]) == (1, 0)


@pytest.mark.parametrize(
    "message",
    [
        "lone surrogate \ud800 and \udfff",
        "nul \x00 byte",
        "emoji 🎉 and ünïcödé",
        "x" * 10_000_000,
    ],
    ids=["surrogates", "nul", "emoji", "10MB"],
)
def test_awkward_text_is_stored(handler, logger, db_path, message):
    logger.info(message)
    logger.info("after")
    assert handler.flush()
    stored = [r["message"] for r in rows(db_path)]
    expected = message.encode("utf-8", "backslashreplace").decode("utf-8")
    assert stored == [expected, "after"]


def test_a_huge_int_or_odd_object_in_a_column_does_not_lose_the_batch(handler, logger, db_path):
    record = logger.makeRecord(logger.name, logging.INFO, "f.py", 2**64, "odd line", (), None)
    record.funcName = object()
    logger.handle(record)
    logger.info("neighbour")
    assert handler.flush()
    odd, neighbour = rows(db_path)
    # SQLite's INTEGER affinity turns integer text beyond 64 bits into REAL.
    assert odd["lineno"] == float(2**64)
    assert odd["func_name"].startswith("<object object")
    assert neighbour["message"] == "neighbour"


def test_a_row_sqlite_rejects_fails_alone(handler, logger, db_path):
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON logs WHEN NEW.message = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
    )
    conn.commit()
    conn.close()
    for message in ["one", "poison", "three"]:
        logger.info(message)
    assert handler.flush() is False
    assert [r["message"] for r in rows(db_path)] == ["one", "three"]
    stats = handler.stats()
    assert (stats["written"], stats["failed"]) == (2, 1)


def test_a_column_added_by_the_user_does_not_break_writing(handler, logger, db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE logs ADD COLUMN hostname TEXT")
    conn.close()
    logger.info("after alter")
    assert handler.flush()
    (row,) = rows(db_path)
    assert (row["message"], row["hostname"]) == ("after alter", None)


@pytest.mark.parametrize(
    "name", ["sqlite_logging_handler", "sqlite_logging_handler.x", "SqliteWorker"]
)
def test_records_of_our_own_loggers_are_ignored(handler, db_path, name):
    own = logging.getLogger(name)
    own.addHandler(handler)
    own.setLevel(logging.DEBUG)
    try:
        own.error("must not loop back")
    finally:
        own.removeHandler(handler)
    handler.flush()
    assert rows(db_path) == []
    assert handler.stats()["emitted"] == 0


def test_filters_and_levels_behave_as_in_logging(handler, logger, db_path):
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: "secret" not in record.getMessage())
    logger.info("too low")
    logger.warning("keep me")
    logger.error("a secret")
    handler.flush()
    assert [r["message"] for r in rows(db_path)] == ["keep me"]
    assert handler.stats()["emitted"] == 1


def test_close_is_idempotent_and_emit_after_close_drops_silently(handler, logger, db_path, capsys):
    logger.info("before")
    handler.close()
    handler.close()
    logger.info("after")
    assert [r["message"] for r in rows(db_path)] == ["before"]
    stats = handler.stats()
    assert (stats["emitted"], stats["written"], stats["dropped"]) == (2, 1, 1)
    assert capsys.readouterr().err == ""


def test_close_from_many_threads_at_once(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(500):
        log.info("%d", i)
    barrier = threading.Barrier(8)

    def close() -> None:
        barrier.wait()
        handler.close()

    threads = [threading.Thread(target=close) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert len(rows(db_path)) == 500


def test_logging_shutdown_writes_what_is_queued(db_path):
    handler = SQLiteHandler(db_path, flush_interval=60)
    log = make_logger(handler)
    for i in range(300):
        log.info("%d", i)
    logging.shutdown([weakref.ref(handler)])  # what runs at interpreter exit
    assert len(rows(db_path)) == 300


def test_store_reads_its_own_writes_also_in_memory():
    handler = SQLiteHandler(":memory:", flush_interval=60)
    log = make_logger(handler)
    store = handler.store()
    log.info("in memory", extra={"k": 1})
    (row,) = store.logs()
    assert (row.message, row.extra_data, row[2]) == ("in memory", {"k": 1}, "INFO")
    store.close()
    handler.close()


def test_threads_are_named_and_gone_after_close(db_path):
    handler = SQLiteHandler(db_path)
    # With writer="process", the thread reading the writer process's answers.
    writer = "sqlite-logging-writer" + ("-process" if handler.writer == "process" else "")
    names = {t.name for t in threading.enumerate()}
    assert {"sqlite-logging-listener", writer} <= names
    handler.close()
    names = {t.name for t in threading.enumerate()}
    assert "sqlite-logging-listener" not in names
    assert writer not in names


def test_repr_names_the_database_and_level(db_path):
    handler = SQLiteHandler(db_path, level="WARNING")
    assert repr(handler) == f"<SQLiteHandler {db_path} (WARNING)>"
    handler.close()


def test_extras_named_like_the_packages_own_attributes_are_ordinary_extras(
    handler, logger, db_path
):
    """Found by hypothesis: these keys must not be taken for a metric or dropped."""
    logger.info("odd keys", extra={"sqlite_metric": ["a", 1, None, None], "sqlite_extra": None})
    handler.flush()
    (row,) = rows(db_path)
    assert json.loads(row["extra_data"]) == {
        "sqlite_metric": ["a", 1, None, None],
        "sqlite_extra": None,
    }
    assert rows(db_path, "SELECT COUNT(*) FROM metrics")[0][0] == 0


def test_paths_with_uri_special_characters(tmp_path):
    from sqlite_logging_handler import LogStore

    path = tmp_path / "my logs ?#%&.db"
    handler = SQLiteHandler(path)
    make_logger(handler).warning("odd path")
    handler.close()
    assert [r["message"] for r in rows(path)] == ["odd path"]
    with LogStore(path) as store:
        assert [r.message for r in store.logs()] == ["odd path"]


def test_handle_returns_what_the_stdlib_handler_returns(handler, logger):
    """True on Python 3.11, the record from 3.12 on; False when a filter refuses it."""
    plain = logging.Handler()
    plain.emit = lambda record: None  # type: ignore[method-assign]
    record = logger.makeRecord(logger.name, logging.INFO, "f.py", 1, "x", (), None)
    assert handler.handle(record) == plain.handle(record)
    for h in (handler, plain):
        h.addFilter(lambda r: False)
    assert handler.handle(record) == plain.handle(record)
    handler.flush()
