r"""Stored text made safe to show: control characters become visible escapes.

Logged text is untrusted (request paths, headers, user names, bytes from C libraries).
Written to a terminal as it is, an escape sequence could set the window title, clear
the screen or rewrite what is shown, and a ``\r`` or ``\n`` could forge a whole record
(CWE-150, CWE-117). Every human-readable rendering of stored text goes through
``visible()``; JSON and CSV output carry the exact text instead.
"""

from __future__ import annotations

import os
import re
from typing import TextIO

__all__ = ["COLOUR_CHOICES", "use_colour", "visible"]

#: ``--color``'s values: ``auto`` follows the environment and the terminal.
COLOUR_CHOICES = ("auto", "always", "never")

# C0 controls, DEL and C1 controls (8-bit CSI, OSC, NEL...), the Unicode line and
# paragraph separators, and the bidirectional controls that reorder what is displayed
# (CVE-2021-42574, "Trojan Source"). Printable text, combining marks and joiners
# (emoji sequences) are left as they are.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(value: object) -> str:
    r"""``value`` as text in which every control character is a visible escape.

    ``\n``, ``\r`` and ``\t`` as such, other characters below U+0100 as ``\xNN``,
    the rest as ``\uNNNN``: the notation of Python's ``repr()`` and of journalctl.
    Backslashes are left alone, so Windows paths stay readable.

    Args:
        value: stored text, or any other stored value (``str()`` of it is shown).
    """
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def use_colour(stream: TextIO, choice: str = "auto") -> bool:
    """Whether to colour what is written to ``stream``: the one rule of every output.

    ``choice`` is ``--color``: ``always`` and ``never`` decide. ``auto`` (the default):
    no colour if ``NO_COLOR`` is set and not empty (https://no-color.org), else colour
    if ``FORCE_COLOR`` is set and neither empty nor ``0``, else none for
    ``TERM=dumb``, else colour only on a terminal.
    """
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (ValueError, OSError):  # closed
        return False
