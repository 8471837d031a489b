import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.text import one_line, pluralize, shorten


def test_a_text_that_fits_is_kept_as_it_is():
    assert shorten("done", 4) == "done"


def test_a_longer_text_keeps_its_start_and_an_ellipsis_within_the_limit():
    assert shorten("abcdefgh", 5) == "abcd…"


def test_the_ellipsis_can_be_three_dots_where_a_message_is_ascii():
    assert shorten("abcdefgh", 5, "...") == "ab..."


@given(st.text(), st.integers(min_value=3, max_value=50))
def test_a_shortened_text_is_never_longer_than_the_limit_and_starts_like_the_text(text, keep):
    short = shorten(text, keep)
    assert len(short) <= keep
    assert text.startswith(short.removesuffix("…"))


def test_one_line_makes_every_run_of_whitespace_one_space():
    assert one_line("  first\n\n  second\tthird ", 100) == "first second third"


def test_one_line_shortens_after_joining_the_lines():
    assert one_line("a\nb\nc\nd", 5) == "a b …"


@pytest.mark.parametrize(("count", "words"), [(0, "0 turns"), (1, "1 turn"), (2, "2 turns")])
def test_a_count_takes_the_plural_unless_it_is_one(count, words):
    assert pluralize(count, "turn") == words
