"""The report's counts and numbers (#15): ``1 bucket``, ``2 buckets``, ``12,345``."""

from __future__ import annotations

import pytest

from sqlite_logging_handler._words import counted, noun_for, number


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0 records"), (1, "1 record"), (1.0, "1 record"), (2, "2 records"),
     (1234, "1,234 records"), (1.5, "1.5 records")],
)  # fmt: skip
def test_counts_are_pluralised(n, expected):
    assert counted(n, "record") == expected


def test_the_last_word_and_irregular_plurals():
    assert counted(1, "metric value") == "1 metric value"
    assert counted(3, "metric value") == "3 metric values"
    assert counted(2, "entry", "entries") == "2 entries"
    assert noun_for(1, "bucket") == "bucket" and noun_for(0, "bucket") == "buckets"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0"), (12345, "12,345"), (1234.5678, "1,234.57"), (108.19437, "108.194"),
     (0.25, "0.25"), (-1234.5, "-1,234.5"), (1234567.891, "1,234,568"), (1e20, "1e+20"),
     (1e-7, "1e-07")],
)  # fmt: skip
def test_numbers_have_separators_and_no_exponent_in_everyday_sizes(value, expected):
    assert number(value) == expected
