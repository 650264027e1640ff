"""Every code example in README.md and docs/ runs, in order, as a reader would run it."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import pytest

from sqlite_logging_handler import SQLiteHandler

from .conftest import REPO, make_logger

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(path: Path, language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(path.read_text()) if lang == language]


def test_the_docs_have_examples():
    assert blocks(REPO / "README.md", "python")
    assert all(path.exists() for path in DOCS)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_examples_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    try:
        for code in blocks(path, "python"):
            exec(compile(code, str(path), "exec"), namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, SQLiteHandler):
                value.close()
        for handler in logging.getLogger().handlers:
            handler.flush()


@pytest.fixture
def sample_db(tmp_path):
    """A database with a few records, for the SQL examples."""
    path = tmp_path / "sample.db"
    handler = SQLiteHandler(path)
    log = make_logger(handler)
    log.info("request %d done", 1, extra={"user_id": 12345})
    log.error("it broke")
    handler.close()
    return path


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_sql_examples_run(path, sample_db):
    conn = sqlite3.connect(sample_db)
    try:
        for code in blocks(path, "sql"):
            statement = ""
            for line in code.splitlines(keepends=True):
                statement += line
                if sqlite3.complete_statement(statement):
                    conn.execute(statement).fetchall()
                    statement = ""
            assert not statement.strip(), f"unfinished SQL in {path.name}: {statement}"
    finally:
        conn.close()


def test_ci_runs_the_readme_test_command():
    readme_commands = blocks(REPO / "README.md", "bash")
    test_command = next(c.strip() for c in readme_commands if "pytest" in c)
    assert test_command in (REPO / ".ci" / "run").read_text()
