"""Metric aggregates computed in SQLite: count, sum, min, max, avg, nearest-rank percentiles.

Nearest rank: the p-th percentile is the smallest value with at least p % of the
values at or below it, the ceil(p/100 * n)-th smallest, so every percentile is a value
that was recorded. ``LogStore.metric_summary()`` and the report share this SQL.

Over time (a chart's or a sparkline's buckets), a metric is summed up by its kind, one
rule for the report's charts and ``sqlite-logs metrics --plot`` (``bucket_statistic``):
a counter's rows are increments, so a bucket shows their **sum** (its total in that
time); any other value (a gauge's reading, a timing, a histogram's measurement) shows
its **median**, p50 nearest rank (the report draws it inside the p50-p95 band).
Averaging a counter's increments would show the typical increment, not the count.
"""

from __future__ import annotations

__all__ = [
    "KINDS_SQL",
    "PERCENTILES",
    "bucket_sql",
    "bucket_statistic",
    "nearest_rank",
    "summary_sql",
    "units_sql",
]

PERCENTILES = (50, 95, 99)
#: Per metric_name, its kind as last recorded (``SELECT metric_name, kind, MAX(id)``).
KINDS_SQL = "SELECT metric_name, kind, MAX(id) FROM metrics GROUP BY metric_name"


def bucket_statistic(kind: str | None) -> str:
    """How a metric of ``kind`` is summed up per time bucket: ``"sum"`` or ``"p50"``."""
    return "sum" if kind == "counter" else "p50"


def bucket_sql(where: str, bucket: str) -> str:
    """Per metric_name and bucket among rows passing ``where``: sum, p50 and p95.

    ``bucket`` is SQL giving a row's bucket index (no parameters in it).
    """
    return f"""
        WITH ranked AS (
            SELECT metric_name, {bucket} AS b, value,
                   ROW_NUMBER() OVER (PARTITION BY metric_name, {bucket} ORDER BY value) AS rn,
                   COUNT(*) OVER (PARTITION BY metric_name, {bucket}) AS n
            FROM metrics {where}
        )
        SELECT metric_name, b, SUM(value) AS sum, {nearest_rank(50)} AS p50,
               {nearest_rank(95)} AS p95
        FROM ranked GROUP BY metric_name, b ORDER BY metric_name, b
    """


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
