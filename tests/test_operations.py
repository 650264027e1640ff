"""Retention, WAL upkeep, backups, hooks and alerts, on the handler's writer."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from sqlite_logging_handler import (
    AlertHook,
    LogRow,
    LogStore,
    MetricRow,
    MetricsAdapter,
    SQLiteHandler,
    _upkeep,
)

from .conftest import make_logger, rows


@pytest.fixture
def maintain_always(monkeypatch):
    """Run the writer's upkeep after every commit instead of every few seconds."""
    monkeypatch.setattr(_upkeep, "MAINTAIN_EVERY", 0.0)


def test_max_rows_keeps_exactly_the_newest_rows_under_concurrent_writing(db_path, maintain_always):
    handler = SQLiteHandler(db_path, batch_size=50, max_rows=500)
    log = make_logger(handler)

    def write(n: int) -> None:
        for i in range(1000):
            log.info("%d %d", n, i)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handler.maintain()  # upkeep after the very last commit
    stored = [r["id"] for r in rows(db_path, "SELECT id FROM logs ORDER BY id")]
    assert len(stored) == 500
    top = rows(db_path, "SELECT seq FROM sqlite_sequence WHERE name = 'logs'")[0][0]
    assert stored == list(range(top - 499, top + 1))  # exactly the newest 500
    handler.close()


def test_retention_deletes_old_logs_and_metrics(db_path, maintain_always):
    handler = SQLiteHandler(db_path, retention="1h")
    log = make_logger(handler)
    metrics = MetricsAdapter(log)
    for age in (7200, 4000, 10):
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, f"{age}s old", (), None)
        record.created = time.time() - age
        log.handle(record)
    metrics.record("fresh", 1)
    handler.maintain()
    assert [r["message"] for r in rows(db_path)] == ["10s old"]
    assert len(rows(db_path, "SELECT * FROM metrics")) == 1
    handler.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"retention": "forever"}, "age"), ({"retention": -5}, "age"), ({"max_rows": -1}, "max_rows")],
)
def test_bad_retention_settings_raise(db_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        SQLiteHandler(db_path, **kwargs)


@pytest.mark.slow
def test_an_idle_writer_empties_the_wal_while_a_reader_stays_open(db_path, monkeypatch):
    """Without the idle TRUNCATE checkpoint the WAL would keep megabytes here."""
    monkeypatch.setattr(_upkeep, "MAINTAIN_EVERY", 0.0)
    monkeypatch.setattr(_upkeep, "WAL_CHECKPOINT_SIZE", 256 * 1024)
    handler = SQLiteHandler(db_path, batch_size=500, flush_interval=0.05)
    log = make_logger(handler)
    store = LogStore(db_path)  # open all along, querying now and then
    wal_after_idle = []
    for round_ in range(10):
        for i in range(2000):
            log.info("round %d record %d %s", round_, i, "x" * 200)
        store.logs(limit=10)
        handler.flush()
        written = handler.stats()["written"]
        log.info("idle tick")  # committed by time on an idle writer, which then checkpoints
        deadline = time.monotonic() + 10
        while handler.stats()["written"] == written and time.monotonic() < deadline:
            time.sleep(0.01)  # no event marks a time-triggered commit
        handler.flush()  # returns once that commit's upkeep has run
        wal_after_idle.append(os.path.getsize(f"{db_path}-wal"))
    store.close()
    handler.close()
    assert os.path.getsize(db_path) > 5 * 1024 * 1024  # megabytes of logs went through
    assert max(wal_after_idle) <= 256 * 1024


def test_backup_while_writing_holds_everything_committed_before_it(db_path, tmp_path):
    handler = SQLiteHandler(db_path, batch_size=100)
    log = make_logger(handler)
    for i in range(3000):
        log.info("before %d", i)
    handler.flush()
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            log.info("during")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        handler.backup(tmp_path / "copy.db")
        with LogStore(db_path) as store:
            store.backup(tmp_path / "copy2.db")
    finally:
        stop.set()
        writer.join()
        handler.close()
    for copy in ("copy.db", "copy2.db"):
        path = tmp_path / copy
        assert rows(path, "PRAGMA integrity_check")[0][0] == "ok"
        assert rows(path, "SELECT COUNT(*) FROM logs WHERE message LIKE 'before %'")[0][0] == 3000


def test_hooks_see_committed_rows_as_logstore_returns_them(handler, logger, db_path):
    seen: list[LogRow | MetricRow] = []
    handler.add_hook(seen.extend)
    logger.warning("hooked", extra={"k": 1})
    MetricsAdapter(logger).record("m", 2.5, "ms")
    handler.flush()
    with LogStore(db_path) as store:
        assert [r for r in seen if isinstance(r, LogRow)] == store.logs()
        assert [r for r in seen if isinstance(r, MetricRow)] == store.metrics()
    handler.remove_hook(seen.extend)
    logger.warning("not hooked")
    handler.flush()
    assert len(seen) == 2


def test_a_failing_hook_is_reported_and_contained(handler, logger, db_path, capsys):
    def broken(rows):
        raise RuntimeError("hook broke")

    handler.add_hook(broken)
    logger.error("still written")
    assert handler.flush()
    assert [r["message"] for r in rows(db_path)] == ["still written"]
    assert "hook broke" in capsys.readouterr().err


def test_alert_hook_calls_back_for_errors_with_rate_limiting(handler, logger):
    alerts: list[LogRow] = []
    alert = AlertHook(min_level="ERROR", callback=alerts.append, limit=3, per=60)
    handler.add_hook(alert)
    logger.warning("not an alert")
    for i in range(5):
        logger.error("alert %d", i)
    logger.critical("critical")
    handler.flush()
    assert [a.message for a in alerts] == ["alert 0", "alert 1", "alert 2"]
    assert alert.suppressed == 3
    with pytest.raises(TypeError, match="callback"):
        AlertHook()


def test_stats_report_sizes_and_the_last_commit(handler, logger, db_path):
    assert handler.stats()["last_commit"] is None
    before = time.time()
    logger.info("x")
    handler.flush()
    stats = handler.stats()
    assert stats["db_size"] == os.path.getsize(db_path)
    assert stats["wal_size"] == os.path.getsize(f"{db_path}-wal")
    assert before <= stats["last_commit"] <= time.time()
