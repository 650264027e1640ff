"""Values a reader binds into SQL, made bindable: any int, clear errors for the rest.

SQLite's integers are 64-bit; Python's are not. The writer stores an integer beyond
64 bits exactly inside JSON, and as REAL in an integer column (SQLite's INTEGER
affinity), so a reader compares such a value as REAL there; ``LogStore`` never lets
``OverflowError`` out of a query. Text UTF-8 cannot hold (a lone surrogate) is bound
as the writer stores it, in the text form of ``backslashreplace`` (``stored_text``).
"""

from __future__ import annotations

__all__ = ["INT64_MAX", "INT64_MIN", "count", "integer", "is_int64", "stored_text", "text"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def is_int64(value: int) -> bool:
    """Whether SQLite can bind ``value`` as an INTEGER."""
    return INT64_MIN <= value <= INT64_MAX


def integer(value: int) -> int | float:
    """``value`` to compare with an integer column: beyond 64 bits, as the REAL stored."""
    return value if is_int64(value) else float(value)


def stored_text(value: str) -> str:
    r"""``value`` as the writer stores it: a lone surrogate as the text ``\udXXX``."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def text(value: object, what: str) -> str:
    """``value``, which must be a str (a text filter).

    Raises:
        TypeError: it is not.
    """
    if not isinstance(value, str):
        msg = f"{what} must be text (str), not {type(value).__name__}"
        raise TypeError(msg)
    return value


def count(value: object, what: str) -> int | None:
    """A number of rows (``limit``): None for all; beyond 64 bits is "all" too.

    Raises:
        ValueError: negative, fractional or not a number.
    """
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        msg = f"{what} must be a whole number of rows (0 or more) or None, not {value!r}"
        raise ValueError(msg)
    return min(value, INT64_MAX)
