"""``extra=`` and ``tags=`` filters: JSON values matched as the writer stored them.

A filter ``{"user_id": 7}`` matches documents holding that value at that key, other
keys allowed; a nested dict matches nested keys the same way (``{"user": {"id": 7}}``),
and a dotted key (``"user.id"``) matches either that key or that path into nested
objects. Lists, and all other values, must be equal, as SQLite compares JSON values
(``1 == 1.0``). A value is first encoded as the writer encodes it (a ``datetime``, a
NaN, an object), so what was stored with a value is found by it. ``None`` matches a
stored JSON ``null``, not a missing key; ``""`` is a key like any other.

A value that cannot be found is refused (``TypeError``), never searched for in vain:
one whose stored form is a ``repr()`` with a memory address (``object()``, a
function, an instance of a class without ``__repr__``), which no stored value can
equal.

Most conditions are SQLite's JSON functions; what those cannot see whole (text with a
NUL, integers beyond 64 bits, keys that need escaping in a JSON path) is compared in
Python by ``sqlite_logs_json_equals`` on the rows the other conditions kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._binds import is_int64
from ._json import to_json, without_surrogates
from ._records import tags_json

__all__ = ["Condition", "json_conditions", "json_equals"]

Condition = tuple[str, list[Any]]
Path = tuple[str, ...]

_ESCAPED_NUL = "\\u0000"  # how JSON writes a NUL (hex digits only: one spelling)
_MISSING = object()
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # in object.__repr__'s "<x object at 0x...>"


def json_conditions(column: str, values: object, what: str) -> list[Condition]:
    """SQL conditions on the JSON ``column`` for a filter ``values`` (ANDed).

    Raises:
        TypeError: ``values`` is not a mapping, or a key is not text.
    """
    if values is None:
        return []
    if not isinstance(values, Mapping):
        msg = f"{what} must be a mapping of keys to values, not {type(values).__name__}"
        raise TypeError(msg)
    conditions = []
    for key, value in values.items():
        if not isinstance(key, str):
            msg = f"{what} keys must be text (str), not {type(key).__name__}: {key!r}"
            raise TypeError(msg)
        _check_findable(value, f"{what}[{key!r}]")
        key = without_surrogates(key)
        stored = _stored_form(value)
        paths: list[Path] = [(key,)]
        if "." in key and all(key.split(".")):
            paths.append(tuple(key.split(".")))
        alternatives = [_all(column, list(_leaves(path, stored))) for path in paths]
        sql = " OR ".join(f"({sql})" for sql, _ in alternatives)
        conditions.append((sql, [param for _, params in alternatives for param in params]))
    return conditions


def json_equals(document: str | None, path: str, expected: str) -> bool:
    """``sqlite_logs_json_equals``: whether ``document`` holds ``expected`` at ``path``.

    ``path`` and ``expected`` are JSON texts: a list of keys, and a value; an empty
    object expected means "an object is there".
    """
    if not isinstance(document, str):
        return False
    try:
        found: Any = json.loads(document)
    except ValueError:
        return False
    for key in json.loads(path):
        found = found.get(key, _MISSING) if isinstance(found, dict) else _MISSING
    wanted = json.loads(expected)
    if wanted == {}:
        return isinstance(found, dict)
    return found is not _MISSING and bool(found == wanted)


def _leaves(path: Path, value: Any) -> list[tuple[Path, Any]]:
    """The (path, value) pairs a nested dict asks for; ``{}`` asks for an object."""
    if isinstance(value, dict) and value:
        return [leaf for key, inner in value.items() for leaf in _leaves((*path, key), inner)]
    return [(path, value)]


def _all(column: str, leaves: list[tuple[Path, Any]]) -> Condition:
    parts = [_condition(column, path, value) for path, value in leaves]
    return " AND ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]


def _condition(column: str, path: Path, value: Any) -> Condition:
    in_python = f"sqlite_logs_json_equals({column}, ?, ?)"
    checked = [_json_text(list(path)), _json_text(value)]
    if not (all(_plain_key(key) for key in path) and _comparable_in_sql(value)):
        return in_python, checked
    json_path = "$" + "".join(f'."{key}"' for key in path)
    if value is None:
        sql, params = f"json_type({column}, ?) = 'null'", [json_path]
    elif value == {}:
        sql, params = f"json_type({column}, ?) = 'object'", [json_path]
    elif isinstance(value, dict | list):
        sql, params = f"json_extract({column}, ?) = json(?)", [json_path, _json_text(value)]
    else:
        sql, params = f"json_extract({column}, ?) = ?", [json_path, value]
    # SQLite's JSON functions stop at an escaped NUL (\u0000) in the document: a
    # document holding one is checked whole, in Python.
    return f"{sql} AND (instr({column}, ?) = 0 OR {in_python})", [*params, _ESCAPED_NUL, *checked]


def _stored_form(value: Any) -> Any:
    """``value`` as the writer stores it in JSON, decoded again.

    Plain JSON stays as it is, but for lone surrogates (``backslashreplace`` text).
    """
    if _plain_json(value):
        return without_surrogates(value)
    return json.loads(tags_json({"value": value}) or "{}").get("value")


def _check_findable(value: Any, where: str, depth: int = 0) -> None:
    """Refuse a value no stored value can equal: a ``repr()`` holding a memory address.

    Raises:
        TypeError: naming ``where`` (``extra['user']``) and the value's type.
    """
    if depth > 100 or _plain_json(value):
        return  # deeper than that, the writer's own encoder gives up too
    if isinstance(value, dict | list | tuple):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _check_findable(item, f"{where}[{key!r}]", depth + 1)
        return
    encoded = to_json(value)  # what the writer stores: never raises (_json.safe_repr)
    if isinstance(encoded, dict | list):  # a dataclass, a set, a mapping: their items
        _check_findable(encoded, where, depth + 1)
    elif isinstance(encoded, str) and _ADDRESS.search(encoded) and encoded.startswith("<"):
        msg = (
            f"{where}: a {type(value).__name__} value cannot be matched: it is stored as "
            f"its repr() with a memory address ({encoded}), which no other object has; "
            "filter by the text stored (a str) or by a value that has a JSON form"
        )
        raise TypeError(msg)


def _plain_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(_plain_json(item) for item in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False


def _plain_key(key: str) -> bool:
    """Whether SQLite's JSON path ``$."key"`` finds ``key`` in every SQLite version."""
    return bool(key) and '"' not in key and json.dumps(key, ensure_ascii=False)[1:-1] == key


def _comparable_in_sql(value: Any) -> bool:
    """Whether ``json_extract()`` gives ``value`` whole, and SQLite can bind it."""
    if isinstance(value, str):
        return "\0" not in value
    if isinstance(value, int) and not isinstance(value, bool):
        return is_int64(value)
    return True  # None, bool, float; lists and objects are compared as JSON text


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
