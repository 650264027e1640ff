"""Datasette and sqlite-utils, the real tools, on a database this package wrote."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # Datasette leaves sqlite3 connections of its own open (on import and per request),
    # which Python 3.13 reports when they are collected: collect them quietly.
    warnings.simplefilter("ignore", ResourceWarning)
    from datasette.app import Datasette

    gc.collect()

from sqlite_logging_handler import SQLiteHandler

from .conftest import make_logger, rows

SQLITE_UTILS = str(Path(sys.executable).with_name("sqlite-utils"))


def _write(db_path, *, full_text: bool) -> None:
    handler = SQLiteHandler(db_path, full_text=full_text)
    log = make_logger(handler)
    log.info("connection timeout talking to db primary", extra={"user_id": 42, "tags": ["a"]})
    log.warning("slow query on db replica", extra={"ms": 812})
    log.error("payment failed: card declined")
    try:
        raise TimeoutError("upstream")
    except TimeoutError:
        log.exception("gateway gave up")
    handler.close()


def _get(db_path, path: str):
    async def fetch():
        response = await Datasette([str(db_path)]).client.get(path)
        return response.status_code, response.json()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # Datasette's own connections
        status, body = asyncio.run(fetch())
        gc.collect()
    assert status == 200, body
    return body


def test_datasette_shows_logs_with_date_facets_json_and_views(db_path):
    _write(db_path, full_text=False)

    body = _get(db_path, "/app/logs.json?_facet_date=timestamp&_json=extra_data&_shape=objects")
    assert body["rows"][0]["message"] == "connection timeout talking to db primary"
    assert body["rows"][0]["extra_data"] == {"user_id": 42, "tags": ["a"]}
    (day,) = body["facet_results"]["timestamp"]["results"]
    today = rows(db_path, "SELECT date(timestamp) FROM logs LIMIT 1")[0][0]
    assert (day["value"], day["count"]) == (today, 4)

    errors = _get(db_path, "/app/errors.json?_shape=objects")["rows"]
    assert [r["message"] for r in errors] == ["payment failed: card declined", "gateway gave up"]
    recent = _get(db_path, "/app/recent.json?_shape=objects")["rows"]
    assert len(recent) == 4

    database = _get(db_path, "/app.json")
    assert {v["name"] for v in database["views"]} == {"errors", "recent"}
    assert {t["name"]: t["fts_table"] for t in database["tables"]}["logs"] is None


def test_datasette_search_uses_logs_fts(db_path):
    _write(db_path, full_text=True)

    database = _get(db_path, "/app.json")
    assert {t["name"]: t["fts_table"] for t in database["tables"]}["logs"] == "logs_fts"
    found = _get(db_path, "/app/logs.json?_search=timeout&_shape=objects")["rows"]
    assert [r["message"] for r in found] == ["connection timeout talking to db primary"]
    in_traceback = _get(db_path, "/app/logs.json?_search=TimeoutError&_shape=objects")["rows"]
    assert [r["message"] for r in in_traceback] == ["gateway gave up"]

    def search(query: str) -> list[str]:
        return [
            r["message"] for r in _get(db_path, f"/app/logs.json?{query}&_shape=objects")["rows"]
        ]

    # As docs/browsing.md says: words as written by default (as search=), "AND" a word;
    # FTS5 syntax with _searchmode=raw (as match=).
    assert search("_search=timeout+AND+db") == []
    assert search("_search=timeout+db") == ["connection timeout talking to db primary"]
    assert search("_search=timeout+AND+db&_searchmode=raw") == [
        "connection timeout talking to db primary"
    ]


def _sqlite_utils(*args: str) -> str:
    done = subprocess.run(
        [SQLITE_UTILS, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sqlite_utils_rows_and_search(db_path):
    _write(db_path, full_text=True)

    listed = json.loads(_sqlite_utils("rows", str(db_path), "logs"))
    assert [r["level"] for r in listed] == ["INFO", "WARNING", "ERROR", "ERROR"]
    found = json.loads(_sqlite_utils("search", str(db_path), "logs", "db"))
    assert {r["message"] for r in found} == {
        "connection timeout talking to db primary",
        "slow query on db replica",
    }
    views = json.loads(_sqlite_utils("views", str(db_path)))
    assert {v["view"] for v in views} == {"errors", "recent"}


@pytest.mark.parametrize("full_text", [False, True])
def test_sqlite_utils_sees_the_fts_table_only_when_enabled(db_path, full_text):
    _write(db_path, full_text=full_text)
    tables = json.loads(_sqlite_utils("tables", str(db_path), "--fts5"))
    assert [t["table"] for t in tables] == (["logs_fts"] if full_text else [])
