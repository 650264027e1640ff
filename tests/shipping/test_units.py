"""The shipper's small parts: tracebacks, backoff, Retry-After, resources, URLs, batches."""

from __future__ import annotations

import email.utils
import json
import socket
import sqlite3
import traceback

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError
from sqlite_logging_handler.shipping import Shipper, ShippingError
from sqlite_logging_handler.shipping._backoff import Backoff, parse_retry_after
from sqlite_logging_handler.shipping._otlp_values import INVALID, decode_json, exception_parts
from sqlite_logging_handler.shipping.destination import public_url, resource_attributes
from sqlite_logging_handler.shipping.source import RowSource

from ..conftest import make_logger


class AppError(Exception):
    pass


def rendered(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_exception_type_and_message_come_from_the_rendered_traceback():
    assert exception_parts(rendered(raised(ValueError("bad value")))) == ("ValueError", "bad value")
    assert exception_parts(rendered(raised(AppError("two\nlines")))) == (
        f"{__name__}.AppError", "two\nlines"
    )  # fmt: skip
    assert exception_parts(rendered(raised(KeyboardInterrupt()))) == ("KeyboardInterrupt", None)
    chained = RuntimeError("outer: x")
    chained.__cause__ = raised(KeyError("inner"))
    assert exception_parts(rendered(raised(chained))) == ("RuntimeError", "outer: x")
    assert exception_parts("ValueError: no frames") == ("ValueError", "no frames")


def test_backoff_grows_with_jitter_up_to_its_maximum_and_honours_retry_after():
    backoff = Backoff(initial=1.0, maximum=8.0, multiplier=2.0, jitter=0.5)
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, base in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert base * 0.5 <= delay <= base * 1.5
    assert backoff.next_delay(retry_after=20.0) >= 20.0
    backoff.reset()
    assert backoff.next_delay() <= 1.5
    assert len({Backoff().next_delay() for _ in range(20)}) > 1  # jittered


def test_retry_after_takes_seconds_or_an_http_date():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    moment = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(moment, now=1_000_000) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(999_000, usegmt=True), now=1_000_000) == 0.0


def test_the_resource_follows_opentelemetrys_precedence():
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=env-attrs,team=a%2Cb,host.name=h1"}
    attributes = resource_attributes("id-1", environ=env)
    assert attributes == {
        "host.name": "h1", "service.instance.id": "id-1", "service.name": "env-attrs", "team": "a,b"
    }  # fmt: skip
    env["OTEL_SERVICE_NAME"] = "env-name"
    assert resource_attributes("id-1", environ=env)["service.name"] == "env-name"
    given = resource_attributes("id-1", resource={"service.name": "option"}, environ=env)
    assert given["service.name"] == "option"
    assert (
        resource_attributes("id-1", "flag", {"service.name": "option"}, env)["service.name"]
        == "flag"
    )
    plain = resource_attributes("id-1", environ={})
    assert plain == {
        "host.name": socket.gethostname(),
        "service.instance.id": "id-1",
        "service.name": "unknown_service",
    }


def test_destination_names_never_hold_a_password():
    assert public_url("postgresql://logs:secret@db.internal:5433/logs?sslmode=require") == (
        "postgresql://logs@db.internal:5433/logs"
    )
    assert public_url("https://user:token@collector/") == "https://user@collector/"
    assert public_url("http://[::1]:4318") == "http://[::1]:4318/"


def test_a_batch_counts_the_ids_deleted_inside_and_after_it(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(10):
        log.info("%d", i)
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM logs WHERE id IN (3, 4, 9, 10)")
    conn.commit()
    conn.close()
    source = RowSource(db_path)
    try:
        first = source.read("logs", 0, 3)
        assert ([r[0] for r in first.rows], first.last) == ([1, 2, 5], 5)  # 3, 4 gone
        rest = source.read("logs", 5, 100)
        assert ([r[0] for r in rest.rows], rest.last) == ([6, 7, 8], 10)  # 9, 10 gone
        bounded = source.read("logs", 5, 100, upto=7)
        assert ([r[0] for r in bounded.rows], bounded.last) == ([6, 7], 7)
        assert source.read("logs", 10, 100).last == 10  # nothing new
    finally:
        source.close()


def test_bad_configuration_is_refused_at_construction(db_path, tmp_path):
    SQLiteHandler(db_path).close()
    with pytest.raises(ValueError, match="on_rejected"):
        Shipper(db_path, "http://127.0.0.1:9", on_rejected="ignore")
    with pytest.raises(ValueError, match="batch_size"):
        Shipper(db_path, "http://127.0.0.1:9", batch_size=0)
    with pytest.raises(ValueError, match="retry_for"):
        Shipper(db_path, "http://127.0.0.1:9", retry_for=-1)
    with pytest.raises(ValueError, match="http"):
        Shipper(db_path, "ftp://example.com")
    with pytest.raises(FileNotFoundError):
        Shipper(tmp_path / "missing.db", "http://127.0.0.1:9")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()
    with pytest.raises(SQLiteLoggingError, match="no log tables"):
        Shipper(other, "http://127.0.0.1:9")
    conn = sqlite3.connect(other)
    try:  # nothing was added to it
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]
    finally:
        conn.close()


def test_a_shipper_runs_once_and_says_so(db_path):
    SQLiteHandler(db_path).close()
    shipper = Shipper(db_path, "http://127.0.0.1:9")
    shipper.run_once()  # nothing to ship: the destination is never contacted
    with pytest.raises(ShippingError, match="make a new one"):
        shipper.run()


def test_the_shipping_package_imports_its_extras_only_when_used():
    import subprocess
    import sys

    code = (
        "import sys, sqlite_logging_handler.shipping as s, sqlite_logging_handler.cli; "
        "print(sorted(m for m in ('psycopg', 'opentelemetry.proto') if m in sys.modules)); "
        "[getattr(s, name) for name in s.__all__]; "
        "print(sorted(m for m in ('psycopg', 'opentelemetry.proto') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "['opentelemetry.proto', 'psycopg']"]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(_json_values, st.sampled_from([(",", ":"), (", ", ": ")]), st.booleans())
def test_json_is_read_as_json_loads_reads_it(value, separators, padded):
    text = json.dumps(value, separators=separators)
    text = f" {text}\n" if padded else text
    assert decode_json(text) == json.loads(text)


@pytest.mark.parametrize("text", ["{not json", "", "{} junk", "'single'"])
def test_text_that_is_not_json_is_said_to_be(text):
    assert decode_json(text) is INVALID
