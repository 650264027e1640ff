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
from collections.abc import Sequence

__all__ = ["with_attached_values"]


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
