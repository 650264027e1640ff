"""Metrics a logger drops are not dropped silently: one warning per logger, naming why.

A metric is not log verbosity. A logger left at the root's default WARNING (nothing
configured, or ``basicConfig(level=WARNING)`` to quiet a console), one that
``dictConfig`` disabled, ``logging.disable()``, or no handler anywhere would drop every
metric without a word. ``MetricsAdapter`` calls ``not_recorded`` for the first metric at
INFO or above a logger drops: a ``RuntimeWarning`` that names the caller's line, the
cause and the fix. Metrics an adapter logs at DEBUG (kept out of production on purpose)
are dropped quietly, as DEBUG records are; so are those a handler's own level filters
out (the user chose that level for that handler).

The warning goes through ``warnings`` (so ``-W ignore::RuntimeWarning`` and
``warnings.filterwarnings`` silence it) but is never raised into the application: where
a filter turns it into an exception (``-W error``), it is written on stderr instead.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings

from ._stderr import write_stderr

__all__ = ["goes_nowhere", "not_recorded"]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def goes_nowhere(logger: logging.Logger, level: int) -> bool:
    """Whether a record at ``level`` through an enabled ``logger`` reaches no handler.

    Without a handler on the logger or its ancestors (``propagate`` followed), logging
    hands the record to ``logging.lastResort``, which shows WARNING and above only.
    """
    if logger.hasHandlers():
        return False
    last_resort = logging.lastResort
    return last_resort is None or level < last_resort.level


def not_recorded(logger: logging.Logger, level: int, stacklevel: int) -> None:
    """Warn, once per logger, that its metrics at ``level`` are not being recorded.

    Args:
        logger: the adapter's logger.
        level: the adapter's level.
        stacklevel: as ``warnings.warn``'s, counted from this function.
    """
    with _warned_lock:
        if logger.name in _warned:
            return
        _warned.add(logger.name)
    text = (
        f"metrics through logger {logger.name!r} are not recorded: "
        f"{_cause(logger, level)}. Said once per logger."
    )
    try:
        warnings.warn(text, RuntimeWarning, stacklevel=stacklevel)
    except Exception:  # a filter made it an error: say it, never raise it
        write_stderr(_formatted(text, stacklevel))


def _formatted(text: str, stacklevel: int) -> str:
    """The warning as Python shows one, ``file:line: RuntimeWarning: text``."""
    try:
        frame = sys._getframe(stacklevel)  # one more: this function
        where = (frame.f_code.co_filename, frame.f_lineno)
    except ValueError:  # not that deep
        return f"RuntimeWarning: {text}"
    return warnings.formatwarning(text, RuntimeWarning, *where, line="").rstrip("\n")


def _cause(logger: logging.Logger, level: int) -> str:
    """Why ``logger`` drops records at ``level``, and what to do about it."""
    name = logging.getLevelName(level)
    if logger.disabled:
        return (
            "it is disabled (logging.config.dictConfig and fileConfig disable the loggers "
            "that exist before them unless disable_existing_loggers is False; configure "
            f"with that, or set logging.getLogger({logger.name!r}).disabled = False)"
        )
    disabled_up_to = logger.manager.disable
    if disabled_up_to >= level:
        return (
            f"logging.disable({logging.getLevelName(disabled_up_to)}) turns off every "
            f"record at that level and below; logging.disable(logging.NOTSET) undoes it"
        )
    if logger.isEnabledFor(level):
        return (
            f"no handler: neither the logger nor its ancestors has one, and logging's "
            f"last resort shows WARNING and above only (add a SQLiteHandler to "
            f"logging.getLogger({logger.name!r}) or to the root logger)"
        )
    effective = logging.getLevelName(logger.getEffectiveLevel())
    return (
        f"it is not enabled for {name} (its effective level is {effective}, set on "
        f"{_level_source(logger)}). Metrics go through logging at the adapter's level: "
        f"give the logger one (logging.getLogger({logger.name!r}).setLevel(logging.{name})), "
        "or choose the metrics' level with MetricsAdapter(..., level=...)"
    )


def _level_source(logger: logging.Logger) -> str:
    """The logger whose level ``logger`` has: itself, an ancestor, or the root."""
    source: logging.Logger | None = logger
    while source is not None and source.level == logging.NOTSET:
        source = source.parent
    if source is None or source is logging.root or source.name == "root":
        return "the root logger"
    return "the logger itself" if source is logger else f"logger {source.name!r}"
