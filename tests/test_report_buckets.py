"""The report's time buckets agree with the commands it prints (#15 follow-up 6).

Buckets are counted on ``created`` (a float), and ``sqlite-logs query --since/--until``
compares the stored millisecond text: records close to a bucket's edge, a sub-
millisecond burst, must be counted where the printed command finds them.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from html import unescape

import pytest

from sqlite_logging_handler import SQLiteHandler

from .conftest import PYTHON, child_env

_BURSTS = [
    1796058000.0004, 1796058000.0009, 1796058000.0013,  # the tester's three records
    *(1796058000.0105 + i * 0.00037 for i in range(12)),  # a burst across ms edges
    1796058000.0499, 1796058000.04951, 1796058000.0501,  # half a millisecond apart
    1796058001.9994, 1796058001.9996, 1796058002.0004,  # around a bucket's edge
    *(1796058000.0 + i * 4.0005 for i in range(30)),  # two minutes: buckets of seconds
]  # fmt: skip


def _write(db, times) -> None:
    handler = SQLiteHandler(db)
    log = logging.getLogger("edge")
    for created in times:
        record = log.makeRecord("edge", logging.ERROR, __file__, 1, "boom", (), None)
        record.created = created
        record.msecs = (created % 1) * 1000
        handler.handle(record)
    handler.close()


@pytest.mark.parametrize("buckets", ["60", "7", "1000"])
def test_every_bucket_heading_counts_what_its_command_finds(tmp_path, buckets):
    db = tmp_path / "edge.db"
    _write(db, _BURSTS)
    out = tmp_path / "r.html"
    run = [PYTHON, "-m", "sqlite_logging_handler"]
    report = subprocess.run(
        [*run, "--db", str(db), "--utc", "report", "--buckets", buckets, "-o", str(out)],
        env=child_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    page = out.read_text(encoding="utf-8")
    sections = re.findall(
        r'<section class="bucket"[^>]*data-records="(\d+)".*?<code>(sqlite-logs [^<]*)</code>',
        page,
        flags=re.S,
    )
    assert sections
    for heading, command in sections:
        words = shlex.split(unescape(command))[1:]
        found = subprocess.run(
            [*run, *words, "--json", "--limit", "100000"],
            env=child_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert found.returncode == 0, found.stderr
        assert len(found.stdout.splitlines()) == int(heading), command
