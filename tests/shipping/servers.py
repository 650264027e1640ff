"""Real servers for the shipping tests, started in temporary folders on 127.0.0.1.

- ``Collector``: the OpenTelemetry collector the PyPI package ``rotel`` ships, exporting
  over OTLP/HTTP to a test receiver.
- ``PostgresCluster``: Debian's PostgreSQL server binaries, ``initdb`` and ``pg_ctl`` run
  as the ``postgres`` user when the tests run as root, on a free port, with the socket
  directory in the cluster's temporary folder.

Where a server truly cannot be had, the tests skip with the reason, unless
``SQLITE_LOGS_REQUIRE_SERVERS=1`` (set by CI): then they fail, so CI never skips them.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest

REQUIRED = os.environ.get("SQLITE_LOGS_REQUIRE_SERVERS") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail where the servers are required (CI)."""
    if REQUIRED:
        pytest.fail(f"{reason} (SQLITE_LOGS_REQUIRE_SERVERS=1: these tests must run)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Return once something accepts connections on ``port`` (the server is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


class Collector:
    """rotel's collector on a free port, exporting to ``sink_url`` over OTLP/HTTP."""

    def __init__(self, folder: Path, sink_url: str) -> None:
        self.binary = _rotel_binary()
        self.folder = folder
        self.sink_url = sink_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.exporter = "otlp"  # or "blackhole": acknowledge and discard (benchmarks)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            str(self.binary), "start",
            "--otlp-http-endpoint", f"127.0.0.1:{self.port}",
            "--otlp-grpc-endpoint", f"127.0.0.1:{free_port()}",
            "--pid-file", str(self.folder / "rotel.pid"),
            "--log-file", str(self.folder / "rotel.log"),
            "--exporter", self.exporter,
        ]  # fmt: skip
        if self.exporter == "otlp":
            command += [
                "--otlp-exporter-protocol",
                "http",
                "--otlp-exporter-endpoint",
                self.sink_url,
            ]
        # rotel's binary embeds the Python its wheel was built for (this one): let it
        # find this interpreter's libpython where that is not on the loader's path (pyenv).
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        path = os.environ.get("LD_LIBRARY_PATH")
        env = dict(os.environ, LD_LIBRARY_PATH=f"{libdir}:{path}" if path else libdir)
        with open(self.folder / "rotel.out", "ab") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.port, self._process)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM), and wait for it to exit."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)


class PostgresCluster:
    """A throw-away PostgreSQL cluster; ``url(name)`` of a fresh database in it."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bindir = _postgres_bindir()
        self.user = self._server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="sqlite-logs-pg-"))
        if self.user is not None:
            pw = pwd.getpwnam(self.user)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        self.durable = durable
        self._databases = 0

    def start(self) -> None:
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")  # fmt: skip
        self.start_server()

    def start_server(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        if not self.durable:  # tests: durability is not what they check
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-o", options,
                  "-l", str(self.folder / "log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop_server(self) -> None:
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop_server()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, while the server runs."""
        try:
            return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        self._databases += 1
        name = f"ship_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        command = [os.path.join(self.bindir, program), *args]
        extra: dict[str, Any] = {}
        if self.user is not None:
            extra = {"user": self.user, "group": self.user, "extra_groups": []}
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd=self.folder, **extra
        )
        if result.returncode:
            log = (self.folder / "log").read_text() if (self.folder / "log").exists() else ""
            raise RuntimeError(f"{program} failed: {result.stderr or result.stdout}\n{log}")

    @staticmethod
    def _server_user() -> str | None:
        """The user the server runs as: postgres when we are root (it refuses root)."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root, and there is no 'postgres' user to run PostgreSQL as")
        return "postgres"


def _rotel_binary() -> Path:
    """The collector inside the PyPI package rotel (a test dependency)."""
    spec = importlib.util.find_spec("rotel")
    binary = Path(spec.origin).parent / "rotel-agent" if spec and spec.origin else None
    if binary is None or not os.access(binary, os.X_OK):
        unavailable("the collector of the PyPI package rotel is missing: pip install rotel")
    return binary


def _postgres_bindir() -> str:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(os.path.realpath(initdb))
    unavailable("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
                "apt-get install postgresql")  # fmt: skip
