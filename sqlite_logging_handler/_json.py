r"""JSON for the values applications put in ``extra=`` and in metric tags.

``json`` knows str, int, float, bool, None, lists, tuples and dicts; everything else
reaches ``to_json``, which turns the common types into what users of JSON expect, so
that ``json_extract`` compares them (docs/schema.md has the table):

- ``datetime``, ``date``, ``time``: ISO 8601 text (``isoformat()``: a naive value stays
  naive, an aware one keeps its offset);
- ``timedelta``: its seconds, a number (``total_seconds()``), comparable in SQL;
- ``UUID``, ``Decimal`` (exact digits), paths, IP addresses, networks and interfaces:
  ``str()``;
- ``Enum`` members: their value (``StrEnum``/``IntEnum`` members are already str/int);
- ``bytes``, ``bytearray``, ``memoryview``: text, decoded as UTF-8, any other byte as a
  ``\xNN`` escape (Python's ``backslashreplace``);
- sets and frozensets: arrays, sorted when their items can be; other sequences
  (``deque``, ``range``) arrays; other mappings objects;
- dataclass instances: objects of their fields;
- NumPy scalars and arrays: their Python values (``.tolist()``), by duck typing, NumPy
  is never imported;
- anything else: its ``repr()``.

Text that UTF-8 cannot hold (a lone surrogate: half an emoji from a client's JSON, a
file name ``os.fsdecode()`` kept undecodable bytes of) is stored in the text form of
Python's ``backslashreplace``, ``\udc80``, as in every other column
(``json_without_surrogates``); JSON's own ``\udc80`` escape would decode back to
the surrogate, which SQLite's JSON functions, sqlite3 and every UTF-8 consumer refuse.

Speed: the C encoder calls ``to_json`` only for a value of a type JSON lacks, so the
common record pays nothing; a type is looked up once and its converter cached.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import ipaddress
import pathlib
import re
import reprlib
import uuid
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

__all__ = ["json_without_surrogates", "safe_repr", "to_json", "without_surrogates"]

Convert = Callable[[Any], Any]

_STR_TYPES: tuple[type, ...] = (
    uuid.UUID,
    decimal.Decimal,
    pathlib.PurePath,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)
_CACHE_LIMIT = 512  # types remembered (classes made at run time must not grow it)
_SURROGATE = re.compile("[\ud800-\udfff]")


#: The usual exceptions an application object's ``__str__``, ``__repr__`` or ``__format__``
#: may raise while a record is rendered. The package handles every ``BaseException`` from
#: such code as the record's failure (a stand-in, a report) and lets only
#: ``KeyboardInterrupt`` through on the caller's path (``except KeyboardInterrupt: raise``
#: before ``except BaseException``); its own threads catch even that. A custom
#: ``BaseException`` subclass cannot be listed here, hence those two clauses.
RENDERING_FAILURES = (Exception, SystemExit, GeneratorExit)


def _bounded_repr() -> reprlib.Repr:
    bounded = reprlib.Repr()
    bounded.maxlevel = 12  # nesting past it is shown as "...", as reprlib does
    bounded.maxtuple = bounded.maxlist = bounded.maxarray = bounded.maxdeque = 1000
    bounded.maxdict = bounded.maxset = bounded.maxfrozenset = 1000
    bounded.maxstring = bounded.maxlong = bounded.maxother = 100_000
    return bounded


_BOUNDED = _bounded_repr()


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a stand-in when the object's own ``__repr__`` fails.

    A value nested past the recursion limit (a dict a few thousand levels deep) gets
    ``reprlib``'s repr, its nesting cut at 12 levels; one whose ``__repr__`` raises,
    ``object.__repr__``'s ``<type object at 0x...>``.
    """
    try:
        return repr(value)
    except RecursionError:  # nested too deep: cut the nesting
        try:
            return _BOUNDED.repr(value)
        except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
            raise
        except BaseException:
            return object.__repr__(value)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException:
        return object.__repr__(value)


def _iso(value: datetime.date | datetime.time) -> str:
    return value.isoformat()


def _seconds(value: datetime.timedelta) -> float:
    return value.total_seconds()


def _text(value: bytes | bytearray | memoryview) -> str:
    return bytes(value).decode("utf-8", "backslashreplace")


def _members(value: Set[Any]) -> list[Any]:
    try:
        return sorted(value)
    except TypeError:  # items of kinds that do not compare
        return list(value)


def _fields(value: Any) -> dict[str, Any]:
    return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}


def _enum_value(value: enum.Enum) -> Any:
    return value.value


def _numpy(value: Any) -> Any:
    return value.tolist()


def _converter(cls: type) -> Convert:
    """How values of ``cls`` are turned into JSON (see the module docstring)."""
    if issubclass(cls, datetime.date | datetime.time):
        return _iso
    if issubclass(cls, datetime.timedelta):
        return _seconds
    if issubclass(cls, _STR_TYPES):
        return str
    if issubclass(cls, enum.Enum):
        return _enum_value
    if issubclass(cls, bytes | bytearray | memoryview):
        return _text
    if issubclass(cls, Set):
        return _members
    if issubclass(cls, Mapping):
        return dict
    if issubclass(cls, Sequence) and not issubclass(cls, str):
        return list
    if dataclasses.is_dataclass(cls):
        return _fields
    if cls.__module__ == "numpy" and hasattr(cls, "tolist"):
        return _numpy
    return safe_repr


_CONVERTERS: dict[type, Convert] = {}


def to_json(value: Any) -> Any:
    """A value JSON can encode for ``value``, whose type JSON lacks (``default=`` hook)."""
    cls = type(value)
    convert = _CONVERTERS.get(cls)
    if convert is None:
        convert = _converter(cls)
        if len(_CONVERTERS) < _CACHE_LIMIT:
            _CONVERTERS[cls] = convert
    return convert(value)


def json_without_surrogates(text: str) -> str:
    r"""JSON text ``text`` with each lone surrogate as its ``backslashreplace`` text.

    A surrogate can only stand inside a JSON string (a key or a value), so it is
    replaced there by the JSON for the six characters ``\udXXX``: the decoded string
    then reads as Python's ``str.encode("utf-8", "backslashreplace")`` shows it, and
    the whole text is valid UTF-8.
    """
    return _SURROGATE.sub(_json_escape, text)


def without_surrogates(value: Any) -> Any:
    r"""``value`` (decoded JSON) with lone surrogates in its strings as ``\udXXX`` text.

    For readers: JSON written by other tools may hold the escape of a lone surrogate,
    which ``json.loads`` turns into a string no UTF-8 output can take.
    """
    if isinstance(value, str):
        return _SURROGATE.sub(_text_escape, value)
    if isinstance(value, list):
        return [without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    return value


def _json_escape(match: re.Match[str]) -> str:
    return f"\\\\u{ord(match.group()):04x}"


def _text_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
