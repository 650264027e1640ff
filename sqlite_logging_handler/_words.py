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


def number(value: float) -> str:
    """``value`` with thousands separators and at most six significant digits.

    No exponent for everyday magnitudes (from 0.0001 to below 10**15).

    Args:
        value: any finite number.

    Returns:
        ``"12,345"``, ``"1,234.57"``, ``"0.25"``, ``"-3"``; ``"1.2e-07"`` for a tiny one.
    """
    if value != 0 and not 1e-4 <= abs(value) < 1e15:
        return f"{value:.3g}"
    rounded = float(f"{value:.6g}")
    if rounded.is_integer():
        return f"{int(rounded):,}"
    return f"{rounded:,.10f}".rstrip("0")
