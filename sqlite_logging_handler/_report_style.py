"""The report page's head: its one stylesheet, inline, so the page needs no other file.

The layout holds from a phone (400 px) to a wide screen with no sideways scrolling:
charts stretch to the width, tables have fixed column widths in which every part of
their text fits (a logger name wraps after a dot, a time between date and clock, a
long message is cut after a few lines with the whole in its tooltip), and below
640 px each table row becomes a card of labelled lines and every other time label
gives way.
"""

from __future__ import annotations

__all__ = ["HEAD"]

HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
* {{ box-sizing: border-box; }}
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; padding: 0 1.5em;
  max-width: 1600px; color: #1f2933; overflow-wrap: anywhere; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.05em; margin: 1.6em 0 0.3em; }}
h3 {{ font-size: 0.95em; margin: 1.2em 0 0.3em; }}
nav, .summary, .empty {{ color: #52606d; }}
.legend {{ min-height: 1.2em; }} .key {{ margin-right: 1.2em; white-space: nowrap; }}
.key i {{ display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; }}
.frame {{ display: grid; grid-template-columns: 5.5em minmax(0, 1fr);
  grid-template-rows: 200px 1.8em; margin-top: 0.8em; }}
.y-axis {{ position: relative; grid-row: 1; grid-column: 1; margin-right: 0.4em; }}
.y-axis .tick {{ position: absolute; right: 0; transform: translateY(50%);
  font-size: 11px; color: #52606d; white-space: nowrap; }}
svg.plot {{ grid-row: 1; grid-column: 2; width: 100%; height: 200px; display: block;
  background: #fafbfc; border-left: 1px solid #9aa5b1; border-bottom: 1px solid #9aa5b1; }}
.grid {{ stroke: #e4e7eb; stroke-width: 1; }}
.x-axis {{ position: relative; grid-row: 2; grid-column: 2; overflow: hidden; }}
.x-axis .tick {{ position: absolute; top: 0.2em; font-size: 11px; color: #52606d;
  white-space: nowrap; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
th, td {{ text-align: left; padding: 0.25em 0.5em; border-bottom: 1px solid #e4e7eb;
  vertical-align: top; }}
td.n, th.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
col.n {{ width: 6.5em; }} col.share {{ width: 22%; }} col.logger {{ width: 24%; }}
col.level {{ width: 6.5em; }} col.time {{ width: calc(19ch + 1em); }}
td.time {{ font-variant-numeric: tabular-nums; }} td.time span {{ white-space: nowrap; }}
.message, .example {{ display: -webkit-box; -webkit-box-orient: vertical;
  -webkit-line-clamp: 6; overflow: hidden; }}
.example {{ -webkit-line-clamp: 3; color: #52606d; font-size: 0.9em; }}
.more {{ color: #52606d; }}
span.share {{ display: inline-block; height: 0.8em; background: #3d7dd8; }}
code {{ font-size: 0.9em; background: #f0f2f5; padding: 0.1em 0.3em; }}
@media (min-width: 1100px) {{ col.time {{ width: calc(29ch + 1em); }} }}
@media (max-width: 640px) {{
  .x-axis .tick.odd {{ display: none; }}
  table.cards, table.cards tbody, table.cards tr, table.cards td {{ display: block;
    width: auto; }}
  table.cards thead, table.cards colgroup {{ display: none; }}
  table.cards tr {{ padding: 0.4em 0; border-bottom: 1px solid #e4e7eb; }}
  table.cards td {{ border: 0; padding: 0.1em 0; text-align: left; }}
  table.cards td.n, table.cards td.time {{ display: inline-block; margin-right: 1.2em; }}
  table.cards td[data-label]::before {{ content: attr(data-label) ": "; color: #52606d; }}
}}
</style></head><body>"""
