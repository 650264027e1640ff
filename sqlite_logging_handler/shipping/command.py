"""``sqlite-logs ship``: send a log database onward, or show where each destination is.

    sqlite-logs --db app.db ship otlp http://collector:4318 [--once] [--service-name NAME]
    sqlite-logs --db app.db ship postgres postgresql://user@host/db [--once]
    sqlite-logs --db app.db ship --status [--json]

Runs until stopped (Ctrl-C, SIGTERM: the batch in flight is sent again next time), or
with ``--once`` until every row committed at its start is shipped. Exit 1 when the
destination refuses permanently or ``--retry-for`` runs out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from .._render import table
from .._times import AGE_FORMS, format_time, parse_age
from ..exceptions import SchemaVersionError, SQLiteLoggingError
from ._wakeup import ChangeWaiter
from .cursors import open_log_database, shipping_status
from .destination import Destination, destination_for
from .shipper import IDLE_RECHECK, Progress, Shipper

__all__ = ["add_ship_command"]

#: Seconds ``--once`` retries an unreachable destination unless told otherwise.
ONCE_RETRY_FOR = 300.0
Command = Callable[[argparse.Namespace, TextIO], int]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def add_ship_command(command: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    """Add ``ship`` through ``cli``'s ``command(name, run, help)`` helper."""
    ship = command(
        "ship", _ship, "send rows to an OpenTelemetry Collector or PostgreSQL, at least once"
    )
    ship.add_argument("--status", action="store_true", help="where each destination is")
    ship.add_argument("--json", action="store_true", help="with --status: one JSON object each")
    kinds = ship.add_subparsers(dest="kind", metavar="DESTINATION")
    otlp = kinds.add_parser(
        "otlp", help="OTLP/HTTP (protobuf, gzip) to a collector", description=_OTLP_HELP
    )
    otlp.add_argument("endpoint", help="e.g. http://collector:4318")
    otlp.add_argument(
        "--header", action="append", type=_pair, default=[], metavar="KEY=VALUE",
        help="a request header (e.g. authentication); repeatable",
    )  # fmt: skip
    postgres = kinds.add_parser(
        "postgres", help="into PostgreSQL tables", description=_POSTGRES_HELP
    )
    postgres.add_argument("url", help="e.g. postgresql://logs@db.internal/logs")
    for sub in (otlp, postgres):
        _add_common(sub)


_OTLP_HELP = "Ship logs and metrics to an OpenTelemetry Collector over OTLP/HTTP."
_POSTGRES_HELP = "Ship logs and metrics into PostgreSQL (tables logs and metrics)."


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="the log database (default: $SQLITE_LOGS_DB, else logs.db)",
    )
    parser.add_argument("--once", action="store_true", help="ship what is there, then exit")
    parser.add_argument("--service-name", help="service.name (default: $OTEL_SERVICE_NAME)")
    parser.add_argument(
        "--resource", action="append", type=_pair, default=[], metavar="KEY=VALUE",
        help="a resource attribute, e.g. deployment.environment=prod; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=_positive_int, help="rows per request (otlp: 1000, postgres: 5000)"
    )
    parser.add_argument(
        "--on-rejected", choices=("skip", "stop", "skip-all"), default="skip",
        help="rows the destination refuses as data: skip them (counted), stop, or "
        "skip-all: skip even when it refuses every row (default: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--retry-for", type=_seconds, metavar="AGE",
        help="give up on an unreachable destination after this long: 0 at the first "
        "failure, inf never (default: never; 300 with --once)",
    )  # fmt: skip
    parser.add_argument("--name", help="store the cursor under this name (default: the URL)")
    parser.add_argument("--progress", action="store_true", help="a progress line on stderr")


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        msg = f"expected KEY=VALUE, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return key.strip(), value


def _positive_int(text: str) -> int:
    """A batch size: a whole number, 1 or more (beyond SQLite's counting: all rows)."""
    from ..cli._args import positive_int  # here: cli imports this module

    return positive_int(text)


def _seconds(text: str) -> float:
    """``--retry-for``: an age as ``parse_age`` reads it ('300', '5m', '1h30m'), 0 or inf."""
    if text.strip().lower() in ("0", "0.0", "inf"):
        return float(text)
    try:
        return parse_age(text)
    except ValueError:
        msg = f"cannot read {text!r} as a time to retry for: use 0, inf, or {AGE_FORMS}"
        raise argparse.ArgumentTypeError(msg) from None


def _retry_for(seconds: float | None, once: bool) -> float | None:
    """``--retry-for`` as ``Shipper`` takes it: None retries forever."""
    if seconds is None:
        return ONCE_RETRY_FOR if once else None
    return None if math.isinf(seconds) else seconds


def _ship(args: argparse.Namespace, out: TextIO) -> int:
    from ..cli._args import check_database, database  # here: cli imports this module
    from ..cli._output import usage_error

    following = not args.status and args.kind is not None and not args.once
    if following and not _wait_for_database(database(args)):
        return 0  # stopped (SIGTERM) while waiting
    path = check_database(args)  # a missing one says how to give one, as elsewhere
    if args.status:
        try:
            open_log_database(path).close()  # a log database, or why not, naming it
            return _status(path, args.json, out, utc=args.utc)
        except sqlite3.DatabaseError as exc:  # not a database at all: name it
            msg = f"cannot read {path!r} as a log database: {exc}"
            raise SQLiteLoggingError(msg) from exc
    if args.kind is None:
        usage_error("give a destination (otlp, postgres) or --status", "sqlite-logs ship")
        return 2
    console = _Console(args.progress)
    shipper = Shipper(
        path,
        _destination(args),
        service_name=args.service_name,
        resource=dict(args.resource),
        batch_size=args.batch_size,
        on_rejected=args.on_rejected,
        retry_for=_retry_for(args.retry_for, args.once),
        name=args.name,
        on_progress=console.progress if args.progress else None,
        report=console.report,
    )
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:  # systemd stops services with SIGTERM: stop cleanly, exit 0
        previous = signal.signal(signal.SIGTERM, lambda *_: shipper.stop())
    if not args.once:  # a service's log says what it ships where, from where
        console.report(_starting(shipper))
    try:
        if args.once:
            totals = shipper.run_once()
        else:
            shipper.run()
            return 0
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        console.end()
        if not args.once:
            console.report(f"stopped: {summary(shipper.totals())}{_tail(shipper.totals())}")
    print(f"{summary(totals)} to {shipper.destination.key}{_tail(totals)}", file=out)
    rejected = totals["logs"]["rejected"] + totals["metrics"]["rejected"]
    return 1 if rejected else 0  # rows refused and skipped: done, but not cleanly


def _wait_for_database(path: str) -> bool:
    """Follow mode: wait (said once) for a log database at ``path``; False if stopped.

    The application makes the database when it first logs: a shipper started first
    (a service ordering) waits for it rather than failing.
    """
    if path.startswith("file:") or _log_database_at(path):
        return True
    stopped = threading.Event()
    waiter = ChangeWaiter(path)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:

        def stop(*_: object) -> None:
            stopped.set()
            waiter.wake()

        previous = signal.signal(signal.SIGTERM, stop)
    print(f"sqlite-logs ship: no log database at {path!r} yet; waiting for it", file=sys.stderr)
    try:
        while not stopped.is_set() and not _log_database_at(path):
            waiter.wait(IDLE_RECHECK)
    finally:
        waiter.close()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return not stopped.is_set()


def _log_database_at(path: str) -> bool:
    """Whether ``path`` is a log database with its tables (not one being made)."""
    if not os.path.isfile(path):
        return False
    try:
        open_log_database(path).close()
    except SchemaVersionError:
        return True  # refused with the reason when the shipper opens it
    except (OSError, SQLiteLoggingError):
        return False
    return True


def _starting(shipper: Shipper) -> str:
    status = shipper.status()
    return (
        f"shipping {shipper.database} (instance {shipper.info.instance_id}) to "
        f"{shipper.destination.key}: log rows after {status['log_id']}, metric rows after "
        f"{status['metric_id']} ({status['logs_behind'] + status['metrics_behind']:,} "
        "behind), then each new commit"
    )


def summary(totals: dict[str, dict[str, int]]) -> str:
    """What a run did: "shipped 3 log rows (1 already there) and 0 metric rows"."""
    said = []
    for kind, row in (("logs", "log"), ("metrics", "metric")):
        counts = totals[kind]
        text = f"{counts['shipped']:,} {row} rows"
        if counts["duplicates"]:  # PostgreSQL: acknowledged, but it had them already
            text += f" ({counts['duplicates']:,} already there)"
        said.append(text)
    return f"shipped {' and '.join(said)}"


def _tail(totals: dict[str, dict[str, int]]) -> str:
    logs, metrics = totals["logs"], totals["metrics"]
    return (
        f"; {logs['pruned'] + metrics['pruned']:,} deleted before shipping, "
        f"{logs['rejected'] + metrics['rejected']:,} rejected"
    )


def _destination(args: argparse.Namespace) -> Destination:
    if args.kind == "postgres":
        return destination_for(args.url)
    destination = destination_for(args.endpoint)
    if args.header:
        from .otlp import OTLPDestination

        destination = OTLPDestination(args.endpoint, headers=dict(args.header))
    return destination


def _status(path: str, as_json: bool, out: TextIO, *, utc: bool = False) -> int:
    statuses = shipping_status(path)
    if as_json:
        for status in statuses:
            print(json.dumps(status), file=out)
        return 0
    if not statuses:
        print(f"nothing has been shipped from {path} yet", file=out)
        return 0
    rows = []
    for s in statuses:
        for kind, prefix in (("logs", "log"), ("metrics", "metric")):
            counts = (s[f"{kind}_{count}"] for count in ("behind", "shipped", "pruned", "rejected"))
            rows.append((s["destination"], kind, s[f"{prefix}_id"], *counts))
    headers = ("destination", "table", "cursor", "behind", "shipped", "pruned", "rejected")
    print(table(headers, rows), file=out)
    for s in statuses:
        print(f"\n{s['destination']}", file=out)
        print(f"  last success  {_when(s['last_success'], utc)}", file=out)
        error = (
            f"{_when(s['last_error_at'], utc)}: {_printable(s['last_error'])}"
            if s["last_error"]
            else "-"
        )
        print(f"  last error    {error}", file=out)
    return 0


def _when(epoch: float | None, utc: bool) -> str:
    """A moment as the other subcommands show times (local with offset, or --utc)."""
    if epoch is None:
        return "never"
    return f"{format_time(epoch, utc=utc)} ({_ago(time.time() - epoch)} ago)"


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(0.0, seconds):.0f}s"


def _printable(text: Any) -> str:
    """``text`` with control characters escaped: a server's words never drive the terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


class _Console:
    """Progress and warnings on stderr: a line redrawn in place on a terminal."""

    def __init__(self, progress: bool) -> None:
        self._tty = progress and sys.stderr.isatty()
        self._drawn = False
        self._last = 0.0

    def progress(self, state: Progress) -> None:
        rate = state.shipped / state.seconds if state.seconds > 0 else 0.0
        line = f"shipped {state.shipped:,} rows ({rate:,.0f}/s), about {state.behind:,} behind"
        if state.pruned or state.rejected:
            line += f"; {state.pruned:,} deleted before shipping, {state.rejected:,} rejected"
        now = time.monotonic()
        if self._tty:
            print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
            self._drawn = True
        elif now - self._last >= 10 or state.behind == 0:
            print(line, file=sys.stderr, flush=True)
            self._last = now

    def report(self, line: str) -> None:
        self.end()
        print(f"sqlite-logs ship: {_printable(line)}", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self._drawn:
            print(file=sys.stderr, flush=True)
            self._drawn = False
