"""Every code example in README.md and docs/ runs, in order, as a reader would run it.

A page's examples run in order, in one namespace (a later one may use what an earlier
one made); an example that starts with its own imports is a script, and also runs
alone, in a fresh interpreter in an empty directory, as a reader who copies just that
one runs it, unless it follows the line ``<!-- continues the example above -->``.
"""

from __future__ import annotations

import logging
import re
import shlex
import sqlite3
import subprocess
from pathlib import Path

import pytest

from sqlite_logging_handler import SQLiteHandler, cli

from .conftest import PYTHON, REPO, child_env, make_logger

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
CONTINUES = "<!-- continues the example above -->"


def blocks(path: Path, language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(path.read_text()) if lang == language]


def test_the_docs_have_examples():
    assert blocks(REPO / "README.md", "python")
    assert all(path.exists() for path in DOCS)


def examples(path: Path) -> list[tuple[str, str]]:
    """The runnable examples of a page, in order: python blocks and sqlite-logs commands."""
    found = []
    for lang, code in _BLOCK.findall(path.read_text()):
        if lang == "python":
            found.append(("python", code))
        elif lang == "bash":
            found += [
                ("cli", line) for line in code.splitlines() if line.startswith("sqlite-logs ")
            ]
    return found


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_examples_run(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SQLITE_LOGS_DB", raising=False)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    try:
        for kind, code in examples(path):
            if kind == "python":
                exec(compile(code, str(path), "exec"), namespace)
            else:
                assert cli.main(shlex.split(code)[1:]) == 0, (code, capsys.readouterr().err)
    finally:
        for value in namespace.values():
            if isinstance(value, SQLiteHandler):
                value.close()
        for handler in logging.getLogger().handlers:
            handler.flush()


def scripts() -> list[tuple[str, str]]:
    """Python examples that start with their own imports, by (page and number, code)."""
    found = []
    for path in DOCS:
        text = path.read_text()
        number = 0
        for match in _BLOCK.finditer(text):
            if match.group(1) != "python":
                continue
            number += 1
            code = match.group(2)
            before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
            first = next(line for line in code.splitlines() if line.strip())
            if first.startswith(("import ", "from ")) and before != CONTINUES:
                found.append((f"{path.name}-{number}", code))
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), scripts(), ids=[name for name, _ in scripts()])
def test_each_script_runs_alone_in_a_fresh_interpreter(name, code, tmp_path):
    """Nothing another example, another page or the test process set up is relied on."""
    result = subprocess.run(
        [PYTHON, "-c", code],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_continued_examples_are_marked_only_before_python_blocks():
    for path in DOCS:
        text = path.read_text()
        marks = re.finditer(f"^{re.escape(CONTINUES)}$", text, re.MULTILINE)
        for at in (m.end() for m in marks):
            assert text[at:].lstrip().startswith("```python"), path.name


@pytest.fixture
def sample_db(tmp_path):
    """A database with a few records (and the full-text index), for the SQL examples."""
    path = tmp_path / "sample.db"
    handler = SQLiteHandler(path, full_text=True)
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


def test_every_option_is_documented_in_cli_md():
    import argparse

    documented = (REPO / "docs" / "cli.md").read_text()
    parser = cli._parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    options = {
        option
        for command in [parser, *subparsers.choices.values()]
        for action in command._actions
        for option in action.option_strings
    }
    assert {option for option in options if f"`{option}" not in documented} <= {"-h"}


def test_every_subcommand_is_documented_in_cli_md():
    documented = (REPO / "docs" / "cli.md").read_text()
    import argparse

    parser = cli._parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name in subparsers.choices:
        assert f"## {name}" in documented
        assert f"sqlite-logs {name}" in documented or name == "upgrade"
