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
import uuid
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

__all__ = ["safe_repr", "to_json"]

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


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a stand-in when the object's own ``__repr__`` fails."""
    try:
        return repr(value)
    except Exception:
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
