"""#15 acceptance findings on ``LogStore``: its filters agree with the command line's.

A user's words are searched as words (``search=``), FTS5 syntax only on purpose
(``match=``); filters no record can match as given (bounds swapped, a level below the
minimum) are refused as the command line refuses them; a wrong type is a ``TypeError``
(and a ``ValueError``, as API.md has it); a directory is named as one. Real databases
in ``tmp_path``, real handlers.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from sqlite_logging_handler import LogStore, SQLiteHandler
from sqlite_logging_handler.query import LogRow

from .conftest import make_logger, sqlite_logs

LOGGED_IN = "user logged-in from 10.0.0.1"
TIMEOUT_DB = "connection timeout talking to db primary"


@pytest.fixture
def fts_db(tmp_path):
    """A database with the full-text index and a few records."""
    handler = SQLiteHandler(tmp_path / "fts.db", full_text=True)
    log = make_logger(handler)
    log.warning(LOGGED_IN)
    log.info("user logged out")
    log.info(TIMEOUT_DB)
    log.error("timeout from the cache")
    handler.close()
    return tmp_path / "fts.db"


def _messages(rows: Iterable[LogRow]) -> list[str]:
    return [row.message for row in rows]


# Each method that takes the log filters, as a function of them giving the messages found
# (count_logs: as many "" as it counts).
_METHODS: dict[str, Callable[..., list[str]]] = {
    "logs": lambda store, **f: _messages(store.logs(newest_first=False, **f)),
    "iter_logs": lambda store, **f: _messages(store.iter_logs(**f)),
    "count_logs": lambda store, **f: [""] * store.count_logs(**f),
}


# -- search= takes words, match= takes FTS5 syntax ----------------------------------------


@pytest.mark.parametrize("method", _METHODS)
def test_search_takes_words_as_written(fts_db, method):
    found = _METHODS[method]
    with LogStore(fts_db) as store:
        assert len(found(store, search="logged-in")) == 1
        assert len(found(store, search="10.0.0.1 user")) == 1
        assert len(found(store, search="AND")) == 0  # a word, not syntax: in no record
        assert len(found(store, search="timeout", min_level="ERROR")) == 1
        if method != "count_logs":
            assert found(store, search="logged-in") == [LOGGED_IN]


@pytest.mark.parametrize("method", _METHODS)
def test_match_takes_fts5_syntax_on_purpose(fts_db, method):
    found = _METHODS[method]
    with LogStore(fts_db) as store:
        assert len(found(store, match="timeout AND db")) == 1
        assert len(found(store, match="logged NOT out")) == 1
        assert len(found(store, match="conn*")) == 1
        if method != "count_logs":
            assert found(store, match="timeout AND db") == [TIMEOUT_DB]


def test_follow_takes_search_and_match(tmp_path):
    handler = SQLiteHandler(tmp_path / "follow.db", full_text=True)
    log = make_logger(handler)
    try:
        with handler.store() as store:
            words = store.follow(search="logged-in", poll_interval=0.05)
            query = store.follow(match="timeout AND db", poll_interval=0.05)
            log.info("timeout from the cache")
            log.info(TIMEOUT_DB)
            log.info(LOGGED_IN)
            handler.flush()
            assert next(words).message == LOGGED_IN
            assert next(query).message == TIMEOUT_DB
    finally:
        handler.close()


_EVERY_METHOD: dict[str, Callable[..., Any]] = {
    **_METHODS,
    "follow": lambda store, **f: store.follow(**f),
    "metrics": lambda store, **f: store.metrics(**f),
}


@pytest.mark.parametrize("method", ["logs", "iter_logs", "count_logs", "follow"])
def test_search_and_match_together_are_refused(fts_db, method):
    with LogStore(fts_db) as store, pytest.raises(ValueError, match="not both"):
        _EVERY_METHOD[method](store, search="timeout", match="timeout AND db")


@pytest.mark.parametrize("method", ["logs", "iter_logs", "count_logs", "follow"])
def test_a_malformed_match_says_how_to_search_its_words(fts_db, method):
    with LogStore(fts_db) as store:
        with pytest.raises(ValueError, match="full-text query") as malformed:
            _EVERY_METHOD[method](store, match="logged-in")
        message = str(malformed.value)
        assert message.startswith("cannot read 'logged-in' as a full-text query: ")
        assert message.endswith("(to search for the words as written: search='logged-in')")
        # One short error, not SQLite's traceback chained to it.
        assert malformed.value.__cause__ is None and malformed.value.__suppress_context__
        assert _messages(store.logs(search="logged-in")) == [LOGGED_IN]  # the hint works


def test_search_needs_a_word_and_text(fts_db):
    with LogStore(fts_db) as store:
        with pytest.raises(ValueError, match="at least one word"):
            store.logs(search="  ")
        with pytest.raises(TypeError, match="match must be text"):
            store.logs(match=5)  # type: ignore[arg-type]


def test_an_empty_match_says_so_and_hints_at_nothing_that_fails(fts_db):
    """``match=''`` hinted ``search=''`` (``--match ''``: ``--search ''``), which fails too."""
    with LogStore(fts_db) as store, pytest.raises(ValueError, match="holds no query") as empty:
        store.logs(match=" ")
    assert str(empty.value) == "match=' ' holds no query: give the words to search for"
    result = sqlite_logs("--db", str(fts_db), "query", "--match", "")
    assert result.returncode == 2
    assert result.stderr == (
        "sqlite-logs: error: --match '' holds no query: give the words to search for\n"
    )


# -- filters no record can match as given are refused, as the command line refuses them --


@pytest.mark.parametrize("method", ["logs", "iter_logs", "count_logs", "follow", "metrics"])
def test_until_not_after_since_names_both_bounds(fts_db, method):
    with LogStore(fts_db) as store:
        with pytest.raises(ValueError, match="is not after") as swapped:
            _EVERY_METHOD[method](store, since="2h", until="3h")
        assert re.fullmatch(
            r"until='3h' \(.+\) is not after since='2h' \(.+\): no time is left between them",
            str(swapped.value),
        ), swapped.value
        moment = datetime.datetime(2026, 11, 30, 17, 0)
        with pytest.raises(ValueError, match="is not after since=datetime"):
            _EVERY_METHOD[method](store, since=moment, until=moment)


def test_relative_bounds_count_from_one_moment(fts_db):
    with LogStore(fts_db) as store, pytest.raises(ValueError, match="is not after"):
        store.logs(since="1h", until="1h")  # the same moment: no time between


@pytest.mark.parametrize("method", ["logs", "iter_logs", "count_logs", "follow"])
def test_a_level_below_min_level_is_refused(fts_db, method):
    with LogStore(fts_db) as store:
        with pytest.raises(ValueError, match="is below") as contradiction:
            _EVERY_METHOD[method](store, level="WARNING", min_level="ERROR")
        assert str(contradiction.value) == (
            "level='WARNING' (30) is below min_level='ERROR' (40): "
            "no record can be at both; give one of them"
        )
        with pytest.raises(ValueError, match=r"^level=20 is below min_level=30:"):
            _EVERY_METHOD[method](store, level=20, min_level=30)
    with LogStore(fts_db) as store:  # agreeing ones narrow, as before
        assert _messages(store.logs(level="ERROR", min_level="WARNING")) == [
            "timeout from the cache"
        ]


@pytest.mark.slow
def test_the_command_line_exits_2_for_a_level_below_min_level(fts_db):
    result = sqlite_logs("--db", str(fts_db), "query", "--level", "WARNING", "--min-level", "ERROR")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "sqlite-logs: error: --level 'WARNING' (30) is below --min-level 'ERROR' (40): "
        "no record can be at both; give one of them\n"
    )


# -- types and paths -------------------------------------------------------------------------


def test_a_date_is_a_type_error_saying_how_to_give_its_start(fts_db):
    with LogStore(fts_db) as store:
        with pytest.raises(TypeError) as wrong:
            store.logs(since=datetime.date(2026, 1, 1))  # type: ignore[arg-type]
        # Also the ValueError API.md names for every bound that cannot be read.
        assert isinstance(wrong.value, ValueError)
        with pytest.raises(ValueError, match="a date has no time of day"):
            store.logs(until=datetime.date(2026, 1, 1))  # type: ignore[arg-type]
        message = str(wrong.value)
        assert message.startswith("since: cannot read datetime.date(2026, 1, 1) as a time: ")
        assert "datetime.datetime(2026, 1, 1, 0, 0) or '2026-01-01'" in message
        assert "use a datetime, epoch seconds (a number), or text" in message
        # What it says to give works.
        assert len(store.logs(since=datetime.datetime(2026, 1, 1))) == 4
        assert len(store.logs(since="2026-01-01")) == 4
        with pytest.raises(ValueError, match="cannot read 'soon' as a time"):
            store.logs(until="soon")  # text in none of the forms stays a ValueError


def test_a_directory_is_named_as_one(tmp_path):
    with pytest.raises(FileNotFoundError) as directory:
        LogStore(tmp_path)
    assert str(directory.value) == f"no log database at {str(tmp_path)!r}: it is a directory"
    missing = tmp_path / "nowhere" / "app.db"
    with pytest.raises(FileNotFoundError, match="there is no directory"):
        LogStore(missing)
    with pytest.raises(FileNotFoundError) as absent:
        LogStore(tmp_path / "absent.db")
    assert str(absent.value) == f"no log database at {str(tmp_path / 'absent.db')!r}"
