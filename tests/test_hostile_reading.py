"""Readers against hostile data (#17): what a user sees, and finds, in logged text.

Logged text is untrusted: request paths, headers, names, bytes from C libraries. The
write side stores it exactly; ``LogStore`` must find it whole, and ``sqlite-logs`` must
show it without letting it drive the terminal or forge records.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import pty
import re
import select
import subprocess
import sys
import time
import tty
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlite_logging_handler import LogStore, MetricsAdapter, SQLiteHandler
from sqlite_logging_handler._records import EXTRA_ATTR, VerbatimExtra

from .conftest import PYTHON, child_env, make_logger, rows

# -- helpers ----------------------------------------------------------------------------------


def sqlite_logs(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line into pipes; its output decoded as written (no newline translation)."""
    result = subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        env=child_env(),
        capture_output=True,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


class Terminal:
    """``sqlite-logs`` with its stdout on a pseudo-terminal in raw mode.

    Raw mode: the bytes the program writes reach us unchanged (no ``\\n`` to ``\\r\\n``),
    so a ``\\r`` we read was written by the program.
    """

    def __init__(
        self,
        *args: str,
        stderr_on_terminal: bool = False,
        stdout: IO[bytes] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Start ``sqlite-logs ARGS``; ``stdout``: a file its stdout goes to instead;
        ``env``: the child's environment (default: ``child_env()``)."""
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.process = subprocess.Popen(
            [PYTHON, "-m", "sqlite_logging_handler", *args],
            stdin=subprocess.DEVNULL,
            stdout=slave if stdout is None else stdout,
            stderr=slave if stderr_on_terminal else subprocess.PIPE,
            env=child_env() if env is None else env,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, wanted: bytes, timeout: float = 60, after: bytes = b"") -> bytes:
        """Read until ``wanted`` has arrived after ``after`` (or the terminal closed)."""
        deadline = time.monotonic() + timeout
        while wanted not in (self.output.partition(after)[2] if after else self.output):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {wanted!r}; got {self.output!r}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the program ended and the terminal closed
                break
            if not chunk:
                break
            self.output += chunk
        return self.output

    def finish(self, timeout: float = 60) -> tuple[int, bytes, str]:
        """Read to the end; the exit code, the terminal's bytes and stderr."""
        self.read_until(b"\0never\0", timeout)
        _, err = self.process.communicate(timeout=timeout)
        os.close(self.master)
        return self.process.returncode, self.output, (err or b"").decode()

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=60)
        os.close(self.master)


def on_terminal(*args: str) -> bytes:
    code, output, err = Terminal(*args).finish()
    assert code == 0, err
    return output


_OUR_COLOURS = re.compile(rb"\x1b\[(?:0|2|33|31|1;31)m")
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def assert_inert(output: bytes) -> str:
    """``output`` can neither drive a terminal nor break a line; returns it as text."""
    text = _OUR_COLOURS.sub(b"", output).decode("utf-8")
    controls = [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F]
    assert not controls, (controls, text)
    assert not [c for c in text if c in _BIDI or c in "\u2028\u2029"], text
    return text


TITLE = "\x1b]2;pwned\x07"
CLEAR = "\x1b[2J"
FORGED_LINE = "2026-11-30 17:00:00.000 CRITICAL app [MainThread] forged record"
HOSTILE = [
    f"set title {TITLE} done",
    f"clear {CLEAR} screen",
    "progress 10%\rprogress 100%",
    f"ok\n{FORGED_LINE}",
    "eight-bit csi \x9b31m red, osc \x9d0;x\x9c, nel \x85 next",
    "bidi invoice\u202egpj.exe and \u2066isolate\u2069",
    "bell \x07 backspace \x08 delete \x7f nul \x00 tab \t line sep \u2028 end",
]


@pytest.fixture
def hostile_db(db_path):
    """Hostile text in every field the command line prints."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for message in HOSTILE:
        log.warning(message, extra={"payload": message})
    record = log.makeRecord("app\x1b[31m.evil\u202e", logging.ERROR, __file__, 1, "names", (), None)
    record.threadName = "worker\r\x1b[2K"
    record.levelname = "ERROR\x1b[5m"
    log.handle(record)
    try:
        raise ValueError(f"bad value {CLEAR}\r\n{FORGED_LINE}")
    except ValueError:
        log.exception("with a hostile traceback", stack_info=True)
    metrics = MetricsAdapter(log)
    metrics.record(f"latency{TITLE}", 12.5, "ms\x9b2J")
    metrics.record(f"latency{TITLE}", 14.5, "ms\x9b2J")
    handler.close()
    return db_path


# -- 1. terminal control sequences -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["tail", "-n", "50"],
        ["query", "--limit", "50"],
        ["stats"],
        ["metrics", "--plot"],
    ],
    ids=lambda c: c[0],
)
def test_human_readable_output_on_a_terminal_is_inert(hostile_db, command):
    text = assert_inert(on_terminal("--db", str(hostile_db), *command))
    if command[0] in ("tail", "query"):
        assert r"\x1b]2;pwned\x07" in text  # shown, visibly escaped
        assert r"\x1b[2J" in text and r"progress 10%\rprogress 100%" in text
        assert r"\x9b31m" in text and r"\u202e" in text and r"\x00" in text
        assert r"ok\n2026-11-30 17:00:00.000 CRITICAL" in text
    assert "app\\x1b[31m.evil\\u202e" in text or command[0] == "metrics"
    if command[0] == "metrics":
        assert r"latency\x1b]2;pwned\x07" in text and r"ms\x9b2J" in text


@pytest.mark.slow
def test_tail_shows_one_line_per_record_and_indents_tracebacks(hostile_db):
    text = assert_inert(on_terminal("--db", str(hostile_db), "tail", "-n", "50"))
    lines = text.splitlines()
    records = [line for line in lines if not line.startswith("    ")]
    assert len(records) == len(HOSTILE) + 2  # nothing forged
    assert all(line[:4].isdigit() for line in records), records
    assert not any(line.startswith(FORGED_LINE) for line in lines)
    assert r"[worker\r\x1b[2K]" in text and r"ERROR\x1b[5m" in text
    traceback = [line for line in lines if line.startswith("    ")]
    assert any(r"bad value \x1b[2J\r" in line for line in traceback)
    assert any(line.startswith("    Stack (most recent call last)") for line in traceback)


@pytest.mark.slow
def test_tail_follow_on_a_terminal_is_inert(hostile_db):
    terminal = Terminal("--db", str(hostile_db), "tail", "-f", "-n", "1")
    try:
        terminal.read_until(b"Stack (most recent call last)")
        handler = SQLiteHandler(hostile_db)
        log = make_logger(handler)
        log.critical(f"followed {TITLE}\n{FORGED_LINE}")
        handler.close()
        output = terminal.read_until(b"forged record", after=b"followed")
    finally:
        terminal.stop()
    text = assert_inert(output)
    assert r"followed \x1b]2;pwned\x07\n2026-11-30" in text


def test_pipes_get_the_same_escaping_as_terminals(hostile_db, capsys):
    """Into a pipe, a line is still a record: `tail -f | grep` cannot be fooled either."""
    from sqlite_logging_handler.cli import main

    for command in (["tail", "-n", "50"], ["query"], ["stats"], ["metrics"]):
        assert main(["--db", str(hostile_db), *command]) == 0
        out = capsys.readouterr().out
        assert_inert(out.encode())
        assert not any(line.startswith(FORGED_LINE) for line in out.splitlines())


@pytest.mark.slow
def test_json_and_csv_output_carry_the_exact_text(hostile_db):
    as_json = sqlite_logs("--db", str(hostile_db), "query", "--json", "--limit", "50")
    assert as_json.returncode == 0, as_json.stderr
    # One record per "\n": JSON escapes it; U+2028 and the like stay as they are.
    records = [json.loads(line) for line in as_json.stdout.split("\n") if line]
    assert {r["message"] for r in records} >= set(HOSTILE)
    assert {r["extra_data"]["payload"] for r in records if r["extra_data"]} == set(HOSTILE)
    as_csv = sqlite_logs("--db", str(hostile_db), "query", "--csv", "--limit", "50")
    messages = {r["message"] for r in csv.DictReader(io.StringIO(as_csv.stdout))}
    # csv reads a bare \r inside a quoted field back as written; NUL survives too
    assert messages >= set(HOSTILE)


def test_visible_escapes_every_control_character():
    from sqlite_logging_handler._terminal import visible

    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        shown = visible(f"a{chr(code)}b")
        assert shown.isprintable() and shown.startswith("a\\") and shown.endswith("b"), code
    assert visible("tab\tcr\rnl\n") == r"tab\tcr\rnl\n"
    assert visible("\u202eabc\u2028") == r"\u202eabc\u2028"
    assert visible("plain ünïcode ✓ 日本 👨‍👩‍👧") == "plain ünïcode ✓ 日本 👨‍👩‍👧"  # ZWJ kept
    assert visible(b"\x1b[2J") == r"b'\x1b[2J'"  # a BLOB another tool stored
    assert visible(None) == "None" and visible(12) == "12"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"])))
def test_a_rendered_line_is_always_one_inert_line(message):
    from sqlite_logging_handler._render import log_line
    from sqlite_logging_handler.query import LogRow

    row = LogRow(1, "2026-01-01 00:00:00.000", "INFO", 1, message, message, None, 20,
                 *([None] * 15))  # fmt: skip
    line = log_line(row)
    assert "\n" not in line
    assert_inert(line.encode())


# -- 2. text after a NUL ----------------------------------------------------------------------


@pytest.fixture
def nul_db(db_path):
    handler = SQLiteHandler(db_path, full_text=True)
    log = make_logger(handler)
    log.info("upload name=report.pdf\0.exe rejected")
    log.info("before\0ÜNÏCODE after")
    log.info("plain record")
    log.info("fields", extra={"field": "a\0b", "k\0ey": 1, 'say "hi"': 2, "back\\slash": 3,
                              "esc\x1bkey": 4, "ünï": 5})  # fmt: skip
    nul_logger = logging.getLogger(log.name + "\0hidden")
    nul_logger.propagate = False
    nul_logger.addHandler(handler)
    nul_logger.setLevel(logging.DEBUG)
    nul_logger.info("from a logger named with a NUL")
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "thread", (), None)
    record.threadName = "pool\0worker"
    log.handle(record)
    metrics = MetricsAdapter(log)
    metrics.record("size\0bytes", 1.0, tags={"path": "/tmp/a\0b"})
    handler.close()
    nul_logger.removeHandler(handler)
    return db_path, log.name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (".exe", ["upload name=report.pdf\0.exe rejected"]),
        ("rejected", ["upload name=report.pdf\0.exe rejected"]),
        ("REJECTED", ["upload name=report.pdf\0.exe rejected"]),
        ("pdf\0.EXE", ["upload name=report.pdf\0.exe rejected"]),
        ("ünïcode", ["before\0ÜNÏCODE after"]),
        ("after", ["before\0ÜNÏCODE after"]),
    ],
)
def test_contains_sees_text_after_a_nul(nul_db, text, expected):
    path, _ = nul_db
    with LogStore(path) as store:
        assert [r.message for r in store.logs(contains=text)] == expected


def test_every_filter_sees_whole_values_with_nuls(nul_db):
    path, name = nul_db
    with LogStore(path) as store:
        assert [r.message for r in store.logs(extra={"field": "a\0b"})] == ["fields"]
        assert store.logs(extra={"field": "a"}) == []
        for key, value in [("k\0ey", 1), ('say "hi"', 2), ("back\\slash", 3),
                           ("esc\x1bkey", 4), ("ünï", 5)]:  # fmt: skip
            assert [r.message for r in store.logs(extra={key: value})] == ["fields"], key
        assert store.logs(extra={"k": 1}) == []
        hidden = store.logs(logger=name + "\0hidden")
        assert [r.message for r in hidden] == ["from a logger named with a NUL"]
        assert [r.message for r in store.logs(thread="pool\0worker")] == ["thread"]
        assert [r.message for r in store.logs(search="rejected")] == [
            "upload name=report.pdf\0.exe rejected"
        ]
        (metric,) = store.metrics(name="size\0bytes", tags={"path": "/tmp/a\0b"})
        assert metric.tags == {"path": "/tmp/a\0b"}
        assert store.metrics(tags={"path": "/tmp/a"}) == []
        assert list(store.metric_summary(name="size\0bytes")) == ["size\0bytes"]


def test_follow_sees_text_after_a_nul(db_path):
    SQLiteHandler(db_path).close()
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    with LogStore(db_path) as store:
        found = store.follow(contains="rejected", poll_interval=0.05)
        log.info("upload name=report.pdf\0.exe rejected")
        log.info("sentinel: rejected")  # found either way: a failure cannot hang the test
        handler.flush()
        assert next(found).message == "upload name=report.pdf\0.exe rejected"
    handler.close()


@pytest.mark.slow
def test_the_command_line_finds_text_after_a_nul(nul_db):
    path, _ = nul_db
    found = sqlite_logs("--db", str(path), "query", "--contains", ".exe", "--json")
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["message"] for line in found.stdout.splitlines()] == [
        "upload name=report.pdf\0.exe rejected"
    ]
    extra = sqlite_logs("--db", str(path), "query", "--extra", 'field="a\\u0000b"', "--json")
    assert [json.loads(line)["message"] for line in extra.stdout.splitlines()] == ["fields"]
    table = sqlite_logs("--db", str(path), "query", "--contains", "rejected")
    assert r"report.pdf\x00.exe rejected" in table.stdout


def test_any_part_of_any_message_is_found(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    store = handler.store()

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(message=st.text(st.characters(exclude_categories=["Cs"])), data=st.data())
    def check(message, data):
        log.info(message)
        start = data.draw(st.integers(0, len(message)))
        needle = message[start : data.draw(st.integers(start, len(message)))]
        (last,) = store.logs(limit=1)
        cases = {needle.upper(), needle.lower()} if needle.isascii() else set()
        for variant in {needle, *cases}:
            found = store.logs(contains=variant, limit=1)
            assert found and found[0].id == last.id, (message, variant)

    try:
        check()
    finally:
        store.close()
        handler.close()


_KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1)
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), children, max_size=3)
    ),
    max_leaves=8,
)


def test_any_extra_value_under_any_key_is_found(db_path):
    """Every value the writer stores exactly is found by the filter that names it."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    store = handler.store()

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(key=_KEYS, value=_VALUES)
    def check(key, value):
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, "needle", (), None)
        record.__dict__[EXTRA_ATTR] = VerbatimExtra({key: value})  # any key, even "message"
        log.handle(record)
        (last,) = store.logs(limit=1)
        assert last.extra_data == {key: value}
        found = store.logs(extra={key: value}, limit=1)
        assert found and found[0].id == last.id, (key, value)

    try:
        check()
    finally:
        store.close()
        handler.close()


# -- 3. values SQLite cannot bind ----------------------------------------------------------


@pytest.fixture
def big_db(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("exactly 2**64 + 1", extra={"amount": 2**64 + 1})
    log.info("exactly 2**64", extra={"amount": 2**64})
    log.info("very negative", extra={"amount": -(2**70)})
    log.info("nested", extra={"order": {"total": 2**80, "items": [2**65]}})
    log.info("not a number", extra={"ratio": math.nan})
    log.info("infinite", extra={"ratio": math.inf})
    log.info("a date", extra={"when": datetime(2026, 11, 30, 17, 0, tzinfo=UTC)})
    log.info("a decimal", extra={"price": Decimal("9.99")})
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "thread 2**64", (), None)
    record.thread = 2**64
    log.handle(record)
    metrics = MetricsAdapter(log)
    metrics.record("bytes", 1.0, tags={"total": 2**64 + 1})
    handler.close()
    return db_path


def test_values_beyond_64_bits_find_the_rows_stored_with_them(big_db):
    with LogStore(big_db) as store:

        def found(**filters) -> list[str]:
            return [r.message for r in store.logs(**filters)]

        assert found(extra={"amount": 2**64 + 1}) == ["exactly 2**64 + 1"]
        assert found(extra={"amount": 2**64}) == ["exactly 2**64"]
        assert found(extra={"amount": -(2**70)}) == ["very negative"]
        assert found(extra={"amount": 2**100}) == []
        assert found(extra={"order": {"total": 2**80, "items": [2**65]}}) == ["nested"]
        assert found(thread=2**64) == ["thread 2**64"]
        assert found(thread=-(2**64)) == []
        assert found(level=2**70) == found(min_level=2**70) == []
        assert len(found(min_level=-(2**70), limit=None)) == 9
        assert len(found(limit=2**64)) == 9
        (metric,) = store.metrics(tags={"total": 2**64 + 1})
        assert metric.tags == {"total": 2**64 + 1}


def test_values_the_writer_encodes_are_found_as_it_stored_them(big_db):
    with LogStore(big_db) as store:
        assert [r.message for r in store.logs(extra={"ratio": math.nan})] == ["not a number"]
        assert [r.message for r in store.logs(extra={"ratio": math.inf})] == ["infinite"]
        when = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
        assert [r.message for r in store.logs(extra={"when": when})] == ["a date"]
        assert [r.message for r in store.logs(extra={"price": Decimal("9.99")})] == ["a decimal"]


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"since": 1e300}, "since"),
        ({"until": -1e300}, "until"),
        ({"since": math.nan}, "since"),
        ({"since": math.inf}, "since"),
        ({"since": "99999999999999999999w"}, "since"),
        ({"limit": -1}, "limit"),
        ({"limit": math.inf}, "limit"),
    ],
)
def test_values_out_of_any_range_are_a_clear_value_error(big_db, filters, words):
    with LogStore(big_db) as store, pytest.raises(ValueError, match=words):
        store.logs(**filters)


@pytest.mark.parametrize(
    "filters",
    [
        {"logger": 5},
        {"contains": 5},
        {"trace_id": 5},
        {"thread": 1.5},
        {"extra": {5: 1}},
        {"level": [20]},
    ],
)
def test_values_of_the_wrong_type_are_a_clear_type_error(big_db, filters):
    with LogStore(big_db) as store, pytest.raises(TypeError, match=next(iter(filters))):
        store.logs(**filters)


def test_follow_and_metrics_take_any_integer(big_db):
    with LogStore(big_db) as store:
        assert next(store.follow(after_id=-(2**64))).id == 1
        assert next(store.follow(after_id=-(2**64), min_level=-(2**70))).id == 1
        assert store.metrics(name="bytes", limit=2**64)[0].value == 1.0
        with pytest.raises(TypeError, match="name"):
            store.metrics(name=2**64)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["query", "--extra", "amount=18446744073709551617", "--json"], ["exactly 2**64 + 1"]),
        (["query", "--thread", "18446744073709551616", "--json"], ["thread 2**64"]),
        (["query", "--min-level", "99999999999999999999", "--json"], []),
        (
            ["query", "--limit", "99999999999999999999", "--json", "--contains", "2**64 + 1"],
            ["exactly 2**64 + 1"],
        ),
        (["export", "--extra", "amount=-1180591620717411303424"], ["very negative"]),
    ],
)
def test_the_command_line_takes_any_integer(big_db, args, expected):
    result = sqlite_logs("--db", str(big_db), *args)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["message"] for line in result.stdout.splitlines()] == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["tail", "-n", "99999999999999999999"],
        ["prune", "--keep-rows", "99999999999999999999", "--dry-run"],
        ["metrics", "--plot", "--buckets", "1000"],
    ],
)
def test_huge_counts_work(big_db, args):
    result = sqlite_logs("--db", str(big_db), *args)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["query", "--since", "1e300"],
        ["query", "--until", "99999999999999999999w"],
        ["metrics", "--plot", "--buckets", "99999999999999999999"],
        ["report", "--buckets", "99999999999999999999"],
    ],
)
def test_values_out_of_range_are_one_line_and_exit_2(big_db, args):
    result = sqlite_logs("--db", str(big_db), *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("sqlite-logs")


# -- 4. custom level names ----------------------------------------------------------------

_CUSTOM_LEVELS = """
import logging, sys
from sqlite_logging_handler import SQLiteHandler
logging.addLevelName(25, "NOTICE")
logging.addLevelName(5, "TRACE")
handler = SQLiteHandler(sys.argv[1])
log = logging.getLogger("app")
log.setLevel(1)
log.addHandler(handler)
log.log(5, "a trace")
log.debug("a debug")
log.info("an info")
log.log(25, "a notice")
log.warning("a warning")
handler.close()
"""


@pytest.fixture
def custom_levels_db(db_path, monkeypatch):
    """Written by another process, which registered NOTICE (25) and TRACE (5)."""
    subprocess.run(
        [PYTHON, "-c", _CUSTOM_LEVELS, str(db_path)], env=child_env(), check=True, timeout=120
    )
    # This process knows neither name (another test may have registered NOTICE).
    for name, number in (("NOTICE", 25), ("TRACE", 5)):
        if name in logging._nameToLevel:
            monkeypatch.delitem(logging._nameToLevel, name)
        if logging._levelToName.get(number) == name:
            monkeypatch.delitem(logging._levelToName, number)
    assert "NOTICE" not in logging.getLevelNamesMapping()
    return db_path


def test_custom_level_names_resolve_from_the_database(custom_levels_db):
    with LogStore(custom_levels_db) as store:

        def found(**filters) -> list[str]:
            return [r.message for r in store.logs(newest_first=False, **filters)]

        assert found(level="NOTICE") == ["a notice"]
        assert found(level="notice") == ["a notice"]
        assert found(min_level="NOTICE") == ["a notice", "a warning"]
        assert found(min_level="TRACE") == ["a trace", "a debug", "an info", "a notice",
                                            "a warning"]  # fmt: skip
        assert found(level="TRACE") == ["a trace"]
        assert found(min_level="CRITICAL") == []  # never logged, but a standard name
        with pytest.raises(ValueError, match="LOUD"):
            store.logs(min_level="LOUD")


@pytest.mark.slow
def test_custom_level_names_work_in_the_command_line(custom_levels_db):
    db = ["--db", str(custom_levels_db)]
    exact = sqlite_logs(*db, "query", "--level", "NOTICE", "--json")
    assert exact.returncode == 0, exact.stderr
    assert [json.loads(line)["message"] for line in exact.stdout.splitlines()] == ["a notice"]
    minimum = sqlite_logs(*db, "query", "--min-level", "NOTICE", "--json")
    assert [json.loads(line)["message"] for line in minimum.stdout.splitlines()] == [
        "a warning",
        "a notice",
    ]
    exported = sqlite_logs(*db, "export", "--min-level", "TRACE")
    assert len(exported.stdout.splitlines()) == 5
    tail = sqlite_logs(*db, "tail", "--min-level", "NOTICE")
    assert tail.returncode == 0, tail.stderr
    assert [line.split()[-1] for line in tail.stdout.splitlines()] == ["notice", "warning"]
    unknown = sqlite_logs(*db, "query", "--level", "LOUD")
    assert unknown.returncode == 2
    assert "unknown level 'LOUD'" in unknown.stderr and "Traceback" not in unknown.stderr


# -- 5. exc_info without an exception ------------------------------------------------------


def test_exc_info_without_an_exception_stores_no_traceback(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.exception("exception() outside except")  # noqa: LOG004 (the case under test)
    log.error("exc_info=True outside except", exc_info=True)  # noqa: LOG014
    log.error("exc_info=sys.exc_info()", exc_info=sys.exc_info())
    console = logging.StreamHandler(io.StringIO())  # renders exc_text first, as a console does
    log.handlers.insert(0, console)
    log.exception("after a console handler")  # noqa: LOG004
    log.handlers.remove(console)
    forwarded = log.makeRecord(log.name, logging.ERROR, __file__, 1, "forwarded", (), None)
    forwarded.exc_text = logging.Formatter().formatException((None, None, None))
    log.handle(forwarded)  # as a SocketHandler's receiver gets it
    try:
        raise KeyError("real")
    except KeyError:
        log.exception("a real one")
    handler.close()
    stored = {r["message"]: r["exc_text"] for r in rows(db_path)}
    real = stored.pop("a real one")
    assert "KeyError: 'real'" in real
    assert stored == dict.fromkeys(stored, None) and len(stored) == 5
    with_exception = rows(db_path, "SELECT message FROM logs WHERE exc_text IS NOT NULL")
    assert [r["message"] for r in with_exception] == ["a real one"]


# -- a dict message --------------------------------------------------------------------------


def test_a_dict_message_is_stored_as_logging_shows_it_with_or_without_extra(db_path):
    """Only structlog's ProcessorFormatter hands over an event dict to take apart."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    event = {"event": "login", "user": 7}
    log.info(event)
    log.info(event, extra={"request_id": "r1"})
    handler.close()
    plain, with_extra = rows(db_path)
    assert plain["message"] == with_extra["message"] == str(event)
    assert plain["extra_data"] is None
    assert json.loads(with_extra["extra_data"]) == {"request_id": "r1"}
