"""LogStore: every filter, times, percentiles, follow(), and read-only access."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from sqlite_logging_handler import LogStore, MetricsAdapter, SQLiteHandler
from sqlite_logging_handler.query import parse_time

from .conftest import PYTHON, child_env, make_logger

NOW = time.time()


def emit(log: logging.Logger, level: int, message: str, *, ago: float = 0, name=None, **extra):
    """Log a record as if it had been made ``ago`` seconds ago."""
    record = log.makeRecord(name or log.name, level, __file__, 1, message, (), None, extra=extra)
    record.created = NOW - ago
    log.handle(record)


@pytest.fixture
def store(db_path):
    """A store over a database of known records (written, then closed)."""
    global NOW
    NOW = time.time()  # "ago" is measured from now, not from when the module loaded
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    emit(log, logging.DEBUG, "debug detail", ago=7200, name="app")
    emit(log, logging.INFO, "user 7 logged in", ago=3000, name="app.auth", user_id=7)
    emit(log, logging.WARNING, "disk 91% full", ago=1800, name="apple", pct=91.0)
    emit(log, logging.ERROR, "DB Timeout after 30 s", ago=60, name="app.db", user_id=7.0)
    emit(log, logging.CRITICAL, "Ünïcode FAILURE", ago=30, name="app", tags={"a": [1, 2]})
    emit(log, logging.ERROR, "under_score and 100% literal", ago=10, name="other", flag=None)
    handler.close()
    with LogStore(db_path) as s:
        yield s


def messages(rows) -> list[str]:
    return [row.message for row in rows]


class TestLogFilters:
    def test_newest_first_by_default_and_oldest_first_on_request(self, store):
        assert messages(store.logs())[0] == "under_score and 100% literal"
        assert messages(store.logs(newest_first=False))[0] == "debug detail"
        assert len(store.logs(limit=2)) == 2
        assert len(store.logs(limit=None)) == 6

    def test_level_is_exact_by_name_or_number(self, store):
        assert messages(store.logs(level="ERROR", newest_first=False)) == [
            "DB Timeout after 30 s",
            "under_score and 100% literal",
        ]
        assert messages(store.logs(level=logging.WARNING)) == ["disk 91% full"]
        assert messages(store.logs(level="warning")) == ["disk 91% full"]

    def test_min_level_is_that_level_and_above(self, store):
        assert len(store.logs(min_level="ERROR")) == 3
        assert len(store.logs(min_level=logging.INFO)) == 5

    def test_unknown_level_names_raise(self, store):
        with pytest.raises(ValueError, match="LOUD"):
            store.logs(min_level="LOUD")

    def test_logger_matches_itself_and_its_children_only(self, store):
        assert messages(store.logs(logger="app", newest_first=False)) == [
            "debug detail",
            "user 7 logged in",
            "DB Timeout after 30 s",
            "Ünïcode FAILURE",
        ]
        assert messages(store.logs(logger="app.db")) == ["DB Timeout after 30 s"]
        assert messages(store.logs(logger="apple")) == ["disk 91% full"]

    def test_contains_is_case_insensitive_with_literal_wildcards(self, store):
        assert messages(store.logs(contains="timeout")) == ["DB Timeout after 30 s"]
        assert messages(store.logs(contains="100%")) == ["under_score and 100% literal"]
        assert messages(store.logs(contains="r_s")) == ["under_score and 100% literal"]
        assert store.logs(contains="%") != store.logs(limit=None)
        assert messages(store.logs(contains="ünïcode failure")) == ["Ünïcode FAILURE"]

    def test_thread_by_id_or_name(self, store):
        ident = threading.get_ident()
        assert len(store.logs(thread=ident)) == 6
        assert len(store.logs(thread=threading.current_thread().name)) == 6
        assert store.logs(thread=ident + 1) == []

    def test_extra_matches_top_level_values_as_sqlite_compares_json(self, store):
        assert messages(store.logs(extra={"user_id": 7}, newest_first=False)) == [
            "user 7 logged in",
            "DB Timeout after 30 s",  # 7.0 == 7
        ]
        assert messages(store.logs(extra={"pct": 91})) == ["disk 91% full"]
        assert messages(store.logs(extra={"flag": None})) == ["under_score and 100% literal"]
        assert messages(store.logs(extra={"tags": {"a": [1, 2]}})) == ["Ünïcode FAILURE"]
        assert store.logs(extra={"user_id": 8}) == []

    def test_since_and_until_in_every_form(self, store):
        assert len(store.logs(since="1h")) == 5
        assert len(store.logs(since="90s")) == 3
        assert messages(store.logs(since="3h", until="1h")) == ["debug detail"]
        assert len(store.logs(since=NOW - 65, until=NOW - 20)) == 2
        assert len(store.logs(since=datetime.fromtimestamp(NOW - 65))) == 3  # naive = local
        aware = datetime.fromtimestamp(NOW - 65, UTC).astimezone(timezone_plus_5)
        assert len(store.logs(since=aware)) == 3
        assert len(store.logs(since="1w")) == 6

    def test_filters_combine_with_and(self, store):
        assert messages(store.logs(logger="app", min_level="ERROR", since="1h")) == [
            "Ünïcode FAILURE",
            "DB Timeout after 30 s",
        ]
        assert store.logs(logger="app", level="WARNING") == []

    @pytest.mark.parametrize("bad", ["yesterdayish", "soon", "5y", "1 fortnight", ""])
    def test_a_bad_time_names_the_accepted_forms(self, store, bad):
        with pytest.raises(ValueError, match=r"ISO 8601 .*'90s', '15m'"):
            store.logs(since=bad)

    @pytest.mark.parametrize("bad", [True, [1]])
    def test_a_time_of_another_type_is_a_type_error_naming_the_forms(self, store, bad):
        with pytest.raises(TypeError, match=r"^since: .*datetime.*ISO 8601 .*'90s', '15m'"):
            store.logs(since=bad)

    def test_rows_are_tuples_with_attributes_and_decoded_json(self, store):
        (row,) = store.logs(extra={"pct": 91})
        assert row[2] == row.level == "WARNING"
        assert row[4] == row.module == "apple"
        assert row.extra_data == {"pct": 91.0}
        assert isinstance(row, tuple)


timezone_plus_5 = __import__("datetime").timezone(timedelta(hours=5))


@pytest.mark.parametrize("bad", ["2026-11Z", "2026-13", "2026-1", "1:5", "1700-0530"])
def test_text_that_is_neither_a_date_nor_a_time_of_day_is_refused(bad):
    """Before: time.fromisoformat read "2026-1" as 20:01 at UTC-01, "1700-0530" as 17:00."""
    with pytest.raises(ValueError, match="cannot read"):
        parse_time(bad, now=NOW)


def test_a_year_and_month_is_the_first_of_that_month_local_time():
    """ISO 8601's calendar month, as a user pastes it; before, 20:26 today at UTC-11."""
    assert parse_time("2026-11") == parse_time(datetime(2026, 11, 1))
    assert parse_time("0001-02") == parse_time(datetime(1, 2, 1))
    assert parse_time("1200-05") == parse_time(datetime(1200, 5, 1))  # before: 12:00 today
    assert parse_time("17:05", now=NOW) == parse_time(
        datetime.combine(datetime.fromtimestamp(NOW).date(), datetime.min.time()).replace(
            hour=17, minute=5
        )
    )


def test_parse_time_renders_stored_timestamp_text():
    assert parse_time(0) == "1970-01-01 00:00:00.000"
    assert parse_time(1.2345) == "1970-01-01 00:00:01.234"
    assert parse_time("2m", now=120) == "1970-01-01 00:00:00.000"
    assert parse_time(None) is None


@pytest.mark.parametrize(
    ("filters", "indexes", "ordered_by_index"),
    [
        ({"level": "ERROR", "since": "1h"}, ["idx_logs_levelno_timestamp"], True),
        ({"min_level": "WARNING"}, ["idx_logs_levelno_timestamp", "idx_logs_timestamp"], False),
        ({"logger": "app", "since": "1h"}, ["idx_logs_module_timestamp"], False),
        ({"logger": "app.db", "since": "1h"}, ["idx_logs_module_timestamp"], False),
        ({"thread": 1}, ["idx_logs_thread_timestamp"], True),
        ({"since": "1h"}, ["idx_logs_timestamp"], True),
        ({"contains": "x", "since": "1h"}, ["idx_logs_timestamp"], True),
        ({"extra": {"user_id": 7}, "since": "1h"}, ["idx_logs_timestamp"], True),
        ({}, ["idx_logs_timestamp"], True),
    ],
)
def test_each_log_filter_is_served_by_an_index(store, filters, indexes, ordered_by_index):
    statements: list[str] = []
    conn = store._connection()
    conn.set_trace_callback(statements.append)
    store.logs(**filters)
    conn.set_trace_callback(None)
    plan = " ".join(row[3] for row in store.sql(f"EXPLAIN QUERY PLAN {statements[-1]}"))
    assert any(index in plan for index in indexes), plan
    assert "SCAN logs" not in plan or "USING INDEX" in plan
    if ordered_by_index:
        assert "TEMP B-TREE" not in plan  # no sort: the index gives the order


def test_metric_queries_are_served_by_an_index(db_path):
    SQLiteHandler(db_path).close()
    with LogStore(db_path) as store:
        statements: list[str] = []
        conn = store._connection()
        conn.set_trace_callback(statements.append)
        store.metrics(name="latency", since="1h")
        store.metrics(since="1h")
        conn.set_trace_callback(None)
        plans = [
            " ".join(row[3] for row in store.sql(f"EXPLAIN QUERY PLAN {sql}")) for sql in statements
        ]
    assert "idx_metrics_name" in plans[0]
    assert "idx_metrics_timestamp" in plans[1]


@pytest.fixture
def metric_store(db_path):
    handler = SQLiteHandler(db_path)
    metrics = MetricsAdapter(make_logger(handler))
    for value in range(100, 0, -1):  # 100 .. 1, out of order on purpose
        metrics.record("latency", value, "us" if value > 1 else "ms", tags={"odd": value % 2})
    metrics.increment("hits")
    metrics.increment("hits", 3)
    handler.close()
    with LogStore(db_path) as store:
        yield store


def test_metrics_filters(metric_store):
    assert len(metric_store.metrics(name="latency", limit=None)) == 100
    assert len(metric_store.metrics(limit=None, tags={"odd": 1})) == 50
    newest = metric_store.metrics(limit=1)[0]
    assert (newest.metric_name, newest.value, newest.unit) == ("hits", 3.0, "count")
    assert newest[2] == "hits"
    assert metric_store.metrics(name="latency", limit=1, newest_first=False)[0].value == 100


def test_metric_summary_percentiles_are_nearest_rank(metric_store):
    summary = metric_store.metric_summary()
    latency = summary["latency"]
    assert (latency["count"], latency["min"], latency["max"]) == (100, 1.0, 100.0)
    assert latency["avg"] == pytest.approx(50.5)
    assert (latency["p50"], latency["p95"], latency["p99"]) == (50.0, 95.0, 99.0)
    assert latency["unit"] == "ms"  # the most recently recorded unit
    hits = summary["hits"]
    assert (hits["count"], hits["p50"], hits["p99"]) == (2, 1.0, 3.0)
    assert list(metric_store.metric_summary(name="hits")) == ["hits"]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 101])
def test_metric_summary_matches_a_python_nearest_rank(db_path, n):
    import math
    import random

    values = [random.Random(n).uniform(0, 1000) for _ in range(n)]
    handler = SQLiteHandler(db_path)
    metrics = MetricsAdapter(make_logger(handler))
    for value in values:
        metrics.record("v", value)
    handler.close()
    ordered = sorted(values)
    with LogStore(db_path) as store:
        summary = store.metric_summary()["v"]
    for p in (50, 95, 99):
        assert summary[f"p{p}"] == pytest.approx(ordered[max(1, math.ceil(p / 100 * n)) - 1])


def test_statistics(store):
    stats = store.statistics()
    assert stats["total_logs"] == 6
    assert stats["total_metrics"] == 0
    assert stats["logs_by_level"] == {
        "ERROR": 2,
        "DEBUG": 1,
        "INFO": 1,
        "WARNING": 1,
        "CRITICAL": 1,
    }
    assert stats["logs_by_thread"] == {threading.get_ident(): 6}
    assert stats["logs_by_logger"]["app"] == 2
    assert stats["first"] < stats["last"]
    assert stats["last"] == store.logs(limit=1)[0].timestamp


def test_sql_is_read_only(store, db_path):
    assert store.sql("SELECT COUNT(*) FROM logs WHERE level = ?", ("ERROR",))[0][0] == 2
    for statement in ["DELETE FROM logs", "CREATE TABLE x (y)", "PRAGMA user_version = 7"]:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.sql(statement)
    assert store.sql("SELECT COUNT(*) FROM logs")[0][0] == 6


def test_a_missing_file_raises_and_is_not_created(tmp_path):
    with pytest.raises(FileNotFoundError):
        LogStore(tmp_path / "nothing.db")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not sqlite " * 100)
    with pytest.raises(Exception, match="log database"):
        LogStore(path)


def test_queries_complete_while_another_thread_writes_heavily(db_path):
    handler = SQLiteHandler(db_path, batch_size=200)
    log = make_logger(handler)
    handler.flush()
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            log.info("busy %s", "x" * 100)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with LogStore(db_path) as store:
            counts = [0]
            deadline = time.monotonic() + 30
            # Read until we have seen five commits land between our reads.
            while len(set(counts)) < 6 and time.monotonic() < deadline:
                counts.append(store.sql("SELECT COUNT(*) FROM logs")[0][0])
                assert len(store.logs(min_level="INFO", since="1h", limit=100)) <= 100
    finally:
        stop.set()
        writer.join()
        handler.close()
    assert counts == sorted(counts)
    assert len(set(counts)) >= 6  # the writer committed throughout our reads


FOLLOW_CHILD = """
import logging, sys
from sqlite_logging_handler import SQLiteHandler
handler = SQLiteHandler(sys.argv[1], flush_interval=0.05)
log = logging.getLogger("child")
log.setLevel(logging.INFO)
log.addHandler(handler)
for i in range(int(sys.argv[2])):
    log.info("child %d", i)
    if i % 50 == 0:
        handler.flush()
log.warning("child done")
handler.close()
"""


@pytest.mark.slow
def test_follow_yields_another_processes_records_in_order(db_path):
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("before following")
    handler.close()
    store = LogStore(db_path)
    followed = store.follow(poll_interval=0.02)  # starts now: the old record is skipped
    child = subprocess.Popen([PYTHON, "-c", FOLLOW_CHILD, str(db_path), "300"], env=child_env())
    seen = []
    for row in followed:
        seen.append(row.message)
        if row.message == "child done":
            break
    child.wait(timeout=60)
    store.close()
    assert seen == [f"child {i}" for i in range(300)] + ["child done"]


def test_follow_takes_filters_and_after_id_and_ends_on_close(db_path):
    handler = SQLiteHandler(db_path, flush_interval=0.02)
    log = make_logger(handler)
    for i in range(5):
        log.info("old %d", i)
    handler.flush()
    store = LogStore(db_path)
    first_id = store.logs(newest_first=False, limit=1)[0].id
    errors = store.follow(min_level="ERROR", after_id=first_id, poll_interval=0.01)
    log.error("wanted")
    log.info("not wanted")
    log.error("wanted too")
    handler.flush()
    assert next(errors).message == "wanted"
    assert next(errors).message == "wanted too"

    everything = store.follow(after_id=first_id, poll_interval=0.01)
    assert [next(everything).message for _ in range(4)] == ["old 1", "old 2", "old 3", "old 4"]

    closer = threading.Timer(0.1, store.close)
    closer.start()
    assert list(errors) == []  # ends once the store is closed
    closer.join()
    handler.close()


def test_follow_stops_cleanly_on_keyboard_interrupt(db_path):
    import signal

    # Python only raises KeyboardInterrupt where SIGINT is handled: a background job
    # (CI, nohup) may start with SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    SQLiteHandler(db_path).close()
    store = LogStore(db_path)
    followed = store.follow(poll_interval=0.01)
    interrupt = threading.Timer(0.1, lambda: __import__("_thread").interrupt_main())
    safety = threading.Timer(20, store.close)  # a failure, never a hang
    interrupt.start()
    safety.start()
    try:
        assert list(followed) == []
        assert safety.is_alive()  # it ended by the interrupt, not by the safety close
    finally:
        interrupt.join()
        safety.cancel()
        store.close()
        signal.signal(signal.SIGINT, previous)


def test_close_after_a_read_transaction_left_by_an_interrupt_does_not_hang(tmp_path):
    """A Ctrl-C or SIGTERM (the CLI's Terminated) raised inside contextlib's __exit__
    leaves the read transaction's generator suspended, holding the store's lock:
    close() on that thread waited for ever (``tail -n`` hung after SIGTERM)."""
    db = tmp_path / "app.db"
    handler = SQLiteHandler(db)
    make_logger(handler).warning("one")
    handler.close()
    script = (
        "import sys\n"
        "from sqlite_logging_handler import LogStore\n"
        "store = LogStore(sys.argv[1])\n"
        "left = store._read_transaction()\n"
        "left.__enter__()  # as if interrupted before its __exit__ resumed it\n"
        "store.close()\n"
        "print('closed')\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", script, str(db)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "closed\n", done.stderr
