"""Metric aggregates computed in SQLite: count, sum, min, max, avg, nearest-rank percentiles.

Nearest rank: the p-th percentile is the smallest value with at least p % of the
values at or below it, the ceil(p/100 * n)-th smallest, so every percentile is a value
that was recorded. ``LogStore.metric_summary()`` and the report share this SQL.
"""

from __future__ import annotations

__all__ = ["PERCENTILES", "nearest_rank", "summary_sql", "units_sql"]

PERCENTILES = (50, 95, 99)


def nearest_rank(p: int, rank: str = "rn", size: str = "n") -> str:
    """SQL picking the p-th percentile of ``value`` from rows ranked ``rank`` of ``size``."""
    return f"MAX(CASE WHEN {rank} = max(1, ({p} * {size} + 99) / 100) THEN value END)"


def summary_sql(where: str) -> str:
    """Per metric_name, among rows passing ``where``: count, sum, min, max, avg, pNN."""
    ranks = ", ".join(f"{nearest_rank(p)} AS p{p}" for p in PERCENTILES)
    return f"""
        WITH ranked AS (
            SELECT metric_name, value,
                   ROW_NUMBER() OVER (PARTITION BY metric_name ORDER BY value) AS rn,
                   COUNT(*) OVER (PARTITION BY metric_name) AS n
            FROM metrics {where}
        )
        SELECT metric_name, COUNT(*) AS count, SUM(value) AS sum, MIN(value) AS min,
               MAX(value) AS max, AVG(value) AS avg, {ranks}
        FROM ranked GROUP BY metric_name ORDER BY metric_name
    """


def units_sql(where: str) -> str:
    """Per metric_name: the unit most recently recorded, among rows passing ``where``."""
    # SQLite gives a bare column the value of the row that MAX() picked.
    return f"SELECT metric_name, unit, MAX(id) FROM metrics {where} GROUP BY 1"
