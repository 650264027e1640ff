"""Values that start with '-' after an option that takes one, as getopt reads them.

argparse takes ``--since -2h`` for two options and fails with "expected one argument";
getopt, and so ``journalctl --since``, ``tail -n``, ``git log --since``, read the word
after an option that takes a value as that value, whatever it starts with.
``with_attached_values`` rewrites such pairs to ``--since=-2h`` (``-n-5`` for a short
option) before argparse reads them, for every option of every subcommand that takes
one value.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence

__all__ = ["unknown_option", "with_attached_values"]


def with_attached_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with each value that starts with '-' joined to its option."""
    commands = _subcommands(parser)
    takes_value = _options_with_a_value(parser)
    result: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            result.append(token)
            result.extend(tokens)
            break
        if token in commands:  # the subcommand: its options from here on
            takes_value = _options_with_a_value(commands.pop(token))
            commands = {}
        if token in takes_value:
            value = next(tokens, None)
            if value is None:
                result.append(token)
            elif value.startswith("-") and value != "-":
                result.append(f"{token}={value}" if token.startswith("--") else token + value)
            else:
                result.extend([token, value])
            continue
        result.append(token)
    return result


def unknown_option(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str:
    """The first option before the command that ``parser`` does not know, said ("": none).

    ``unrecognized option '--bd' (did you mean --db?)``: what argparse would otherwise
    report as the option's value not being a command. An option argparse reads as an
    abbreviation of one it knows (``--d`` for ``--db``) is known.
    """
    known = parser._option_string_actions
    takes_value = _options_with_a_value(parser)
    tokens = iter(argv)
    for token in tokens:
        if token == "--" or not token.startswith("-") or token == "-":
            return ""  # the command (or what was given for it)
        option, attached, _ = token.partition("=")
        matches = [name for name in known if name.startswith(option) and option.startswith("--")]
        name = option if option in known else matches[0] if len(matches) == 1 else ""
        if not name:
            return f"unrecognized option {option!r}{did_you_mean(parser, option)}"
        if name in takes_value and not attached:
            next(tokens, None)
    return ""


def did_you_mean(parser: argparse.ArgumentParser, option: str) -> str:
    """`` (did you mean --db?)``: the option of ``parser`` nearest ``option``, if one is near.

    As git says of an unknown option; "" when none is close (difflib's ratio of 0.6).
    """
    known = [name for name in parser._option_string_actions if name.startswith("--")]
    close = difflib.get_close_matches(option, known, 1)
    return f" (did you mean {close[0]}?)" if close else ""


def command_parser(
    parser: argparse.ArgumentParser, command: str | None, kind: str | None
) -> argparse.ArgumentParser:
    """The parser of ``command`` (and of its ``kind``: ``ship otlp``), else ``parser``."""
    found = _subcommands(parser).get(command or "", parser)
    return _subcommands(found).get(kind or "", found)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options_with_a_value(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        if isinstance(action, argparse._StoreAction | argparse._AppendAction)
        and action.nargs is None
        for option in action.option_strings
    }
