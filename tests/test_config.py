"""Configuration the way applications already do it: fileConfig, Django's LOGGING, dictConfig."""

from __future__ import annotations

import json
import logging
import logging.config
import threading
import time
from typing import Any

from sqlite_logging_handler import SQLiteHandler

from .conftest import make_logger, rows


def _root_handler() -> SQLiteHandler:
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h, SQLiteHandler)]
    return handler


def _write_ini(tmp_path, handler_lines: str):
    path = tmp_path / "logging.ini"
    path.write_text(
        "[loggers]\nkeys=root\n\n"
        "[handlers]\nkeys=db\n\n"
        "[formatters]\nkeys=\n\n"
        "[logger_root]\nlevel=INFO\nhandlers=db\n\n"
        f"[handler_db]\nclass=sqlite_logging_handler.SQLiteHandler\nlevel=DEBUG\n{handler_lines}\n"
    )
    return path


def test_fileconfig_with_positional_args(tmp_path):
    db = tmp_path / "app.db"
    ini = _write_ini(tmp_path, f"args=({str(db)!r},)")
    logging.config.fileConfig(ini, disable_existing_loggers=False)

    logging.getLogger("billing").warning("card declined", extra={"order": 7})
    handler = _root_handler()
    assert handler.database == str(db)
    assert handler.flush()

    (row,) = rows(db)
    assert (row["level"], row["module"], row["message"]) == ("WARNING", "billing", "card declined")
    assert json.loads(row["extra_data"]) == {"order": 7}


def test_fileconfig_with_keyword_args(tmp_path):
    db = tmp_path / "app.db"
    ini = _write_ini(
        tmp_path,
        f"args=({str(db)!r},)\n"
        "kwargs={'batch_size': 50, 'flush_interval': 0.1, 'overflow': 'drop', 'full_text': True}",
    )
    logging.config.fileConfig(ini, disable_existing_loggers=False)

    logging.getLogger("billing").info("refund issued")
    handler = _root_handler()
    assert (handler.batch_size, handler.flush_interval, handler.overflow) == (50, 0.1, "drop")
    assert handler.full_text
    assert handler.flush()
    assert [r["message"] for r in rows(db, "SELECT * FROM logs_fts WHERE logs_fts MATCH 'refund'")]


def test_django_style_logging_dict(tmp_path):
    """A settings.LOGGING dict as Django projects write it, applied as Django does."""
    db = tmp_path / "app.db"
    LOGGING = {  # noqa: N806 - the name Django gives it
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "verbose": {"format": "{levelname} {asctime} {module} {message}", "style": "{"},
        },
        "filters": {
            "skip_health": {"()": "logging.Filter", "name": "django.request"},
        },
        "handlers": {
            "console": {"class": "logging.NullHandler"},
            "sqlite": {
                "level": "INFO",
                "class": "sqlite_logging_handler.SQLiteHandler",
                "database": str(db),
                "formatter": "verbose",
                "filters": ["skip_health"],
            },
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            "django": {"handlers": ["console", "sqlite"], "level": "INFO", "propagate": False},
        },
    }
    logging.config.dictConfig(LOGGING)
    try:
        logging.getLogger("django.request").error(
            "Internal Server Error: /api/users", extra={"status_code": 500}
        )
        logging.getLogger("django.server").info("filtered out by the handler's filter")
        logging.getLogger("django.db.backends").debug("below the logger's level")
        (handler,) = [
            h for h in logging.getLogger("django").handlers if isinstance(h, SQLiteHandler)
        ]
        assert handler.flush()
    finally:
        logging.getLogger("django").handlers.clear()
        handler.close()

    (row,) = rows(db)
    assert (row["level"], row["module"]) == ("ERROR", "django.request")
    assert row["message"] == "Internal Server Error: /api/users"
    assert json.loads(row["extra_data"]) == {"status_code": 500}


def test_incremental_dictconfig_changes_the_handlers_level(tmp_path):
    db = tmp_path / "app.db"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "db": {"class": "sqlite_logging_handler.SQLiteHandler", "database": str(db)}
            },
            "root": {"handlers": ["db"], "level": "DEBUG"},
        }
    )
    handler = _root_handler()
    log = logging.getLogger("svc")
    log.debug("kept before")
    logging.config.dictConfig(
        {"version": 1, "incremental": True, "handlers": {"db": {"level": "WARNING"}}}
    )
    assert _root_handler() is handler  # incremental: the same handler, a new level
    log.info("dropped by the new level")
    log.warning("kept after")
    assert handler.flush()

    assert [r["message"] for r in rows(db)] == ["kept before", "kept after"]
    assert handler.stats()["emitted"] == 2


def _config(db, batch_size: int) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "db": {
                "class": "sqlite_logging_handler.SQLiteHandler",
                "database": str(db),
                "batch_size": batch_size,
                # A backlog the size of the default queue takes seconds to flush
                # under four flat-out producers; a smaller one keeps the test quick.
                "queue_size": 5_000,
            }
        },
        "root": {"handlers": ["db"], "level": "INFO"},
    }


def test_reconfiguring_while_threads_log_loses_nothing(tmp_path):
    """dictConfig again, five times, while four threads log flat out: no deadlock, every
    record stored, whichever handler (old, closing, or new) it was handed to."""
    db = tmp_path / "app.db"
    logging.config.dictConfig(_config(db, 100))
    handlers = [_root_handler()]
    stop = threading.Event()
    sent = [0] * 4

    def produce(n: int) -> None:
        log = logging.getLogger(f"worker.{n}")
        while not stop.is_set():
            log.info("record %d", sent[n], extra={"worker": n})
            sent[n] += 1

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for batch_size in (50, 200, 500, 20, 100):
            time.sleep(0.05)  # let records pile up in the current handler's queue
            started = time.monotonic()
            logging.config.dictConfig(_config(db, batch_size))
            assert time.monotonic() - started < 30, "reconfiguration stalled"
            handlers.append(_root_handler())
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    final = handlers[-1]
    final.close()
    assert all(h.stats()["queue_depth"] == 0 for h in handlers)

    stored = rows(
        db, "SELECT json_extract(extra_data, '$.worker') AS w, COUNT(*) AS n FROM logs GROUP BY w"
    )
    assert {row["w"]: row["n"] for row in stored} == dict(enumerate(sent))
    assert sum(h.stats()["dropped"] for h in handlers) == 0
    # Threads kept logging into each old handler while dictConfig replaced it.
    assert sum(h.stats()["handed_over"] for h in handlers[:-1]) > 0


def test_a_closed_handler_passes_late_records_to_an_open_one_of_the_same_database(db_path):
    first, second = SQLiteHandler(db_path), SQLiteHandler(db_path)
    try:
        log = make_logger(first)
        first.close()
        log.info("late, but not lost")
        assert second.flush()
        assert [r["message"] for r in rows(db_path)] == ["late, but not lost"]
        assert (first.stats()["emitted"], first.stats()["handed_over"]) == (0, 1)
        assert (second.stats()["emitted"], second.stats()["written"]) == (1, 1)
    finally:
        second.close()


def test_without_an_open_handler_of_the_database_late_records_are_dropped_and_counted(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    handler.close()
    log.info("nowhere to go")
    stats = handler.stats()
    assert (stats["emitted"], stats["dropped"], stats["handed_over"]) == (1, 1, 0)


def test_reconfiguring_to_another_database_stalls_no_one_for_long(tmp_path):
    """No handler of the old database opens again: late records are dropped and counted,
    after a bounded wait, and every other record is in one of the two files."""
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    logging.config.dictConfig(_config(first, 100))
    old = _root_handler()
    stop = threading.Event()
    sent = [0, 0]
    slowest = [0.0, 0.0]

    def produce(n: int) -> None:
        log = logging.getLogger(f"mover.{n}")
        while not stop.is_set():
            started = time.monotonic()
            log.info("record", extra={"worker": n})
            slowest[n] = max(slowest[n], time.monotonic() - started)
            sent[n] += 1

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.05)
        logging.config.dictConfig(_config(second, 100))
        new = _root_handler()
        time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    new.close()

    stored = len(rows(first)) + len(rows(second))
    emitted = old.stats()["emitted"] + new.stats()["emitted"]
    assert emitted == sum(sent)
    assert stored + old.stats()["dropped"] + new.stats()["dropped"] == sum(sent)
    assert max(slowest) < 10  # the late callers' wait is bounded (HANDOVER_WAIT and the close)
