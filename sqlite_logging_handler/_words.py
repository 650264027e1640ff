"""Counts and numbers as people read them: ``1 record``, ``2 records``, ``12,345``.

One place for the report's words, so that every count on the page is pluralised the
same way and every number has thousands separators.
"""

from __future__ import annotations

__all__ = ["counted", "noun_for", "number"]


def counted(n: float, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is exactly one.

    Args:
        n: how many (a whole number, or a float such as 1.5).
        noun: the singular (``"record"``, ``"metric value"``: the last word is inflected).
        plural: the plural when it is not ``noun + "s"`` (``"entries"``).

    Returns:
        ``"1 record"``, ``"0 records"``, ``"12,345 records"``, ``"1.5 buckets"``.
    """
    return f"{number(n)} {noun_for(n, noun, plural)}"


def noun_for(n: float, noun: str, plural: str | None = None) -> str:
    """``noun`` as it follows the count ``n``: singular for exactly one, else plural.

    Args:
        n: the count.
        noun: the singular.
        plural: the plural when it is not ``noun + "s"``.
    """
    return noun if n == 1 else (plural or noun + "s")


def number(value: float, digits: int = 6) -> str:
    """``value`` with thousands separators and at most ``digits`` significant digits.

    The one way every human-readable number is written (the report, and the command
    line's tables, plots and progress); ``--json``/``--csv`` keep full precision. No
    exponent for everyday magnitudes (from 0.0001 to below 10**15), and a whole part
    longer than ``digits`` is kept whole, rounded to a whole number (``1,234,568``):
    digits are dropped after the point only, never made up before it.

    Args:
        value: any finite number.
        digits: significant digits at most (6; 4 for a short label).

    Returns:
        ``"12,345"``, ``"1,234.57"``, ``"0.25"``, ``"-3"``; ``"1.2e-07"`` for a tiny one.
    """
    if value != 0 and not 1e-4 <= abs(value) < 1e15:
        return f"{value:.3g}"
    if abs(value) >= 10**digits:
        return f"{round(value):,}"
    rounded = float(f"{value:.{digits}g}")
    if rounded.is_integer():
        return f"{int(rounded):,}"
    return f"{rounded:,.10f}".rstrip("0")
