"""YAML Overnight does not control is read with bounds: a small file never becomes a huge,
self-referring or unbuildable value; every problem is a YamlProblem with its line."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.bounded_yaml import MAX_EXPANDED_VALUES, YamlProblem, read_yaml


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level repeats the one before nine times (under 1 kB of text)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for index in range(1, levels):
        lines.append(f"{names[index]}: &{names[index]} [" + ",".join([f"*{names[index - 1]}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def problem_of(text: str) -> YamlProblem:
    with pytest.raises(YamlProblem) as raised:
        read_yaml(text)
    return raised.value


def test_plain_documents_read_as_before_aliases_included():
    document = read_yaml("title: Add login\nshared: &s {owner: ana}\nagain: *s\nlist: [1, 2.5, true]\n")
    assert document.data == {"title": "Add login", "shared": {"owner": "ana"}, "again": {"owner": "ana"},
                             "list": [1, 2.5, True]}
    assert read_yaml("").data is None


def test_an_alias_bomb_is_refused_at_the_line_where_it_grows_too_big():
    text = alias_bomb()
    assert len(text) < 1024
    problem = problem_of(text)
    assert f"more than {MAX_EXPANDED_VALUES:,} values" in problem.problem
    assert problem.line is not None and 2 <= problem.line <= 9


def test_a_value_that_contains_itself_is_refused():
    assert "refers to the value that contains it" in problem_of("a: &a [1, *a]\n").problem


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("ok: 1\nbig: 1" + "0" * 5000 + "\n", "5001 digits", 2),
        ("when: 2026-13-45\n", "2026-13-45", 1),
        ("a: [\n", "did not find expected node", 2),
        ("a: " + "[" * 2000 + "]" * 2000 + "\n", "nesting depth", 1),
    ],
)
def test_values_python_cannot_build_and_broken_syntax_say_what_and_where(text, words, line):
    problem = problem_of(text)
    assert words in problem.problem
    assert problem.line == line


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:&*[]{},- \n'\"!0123456789.#|>")), max_size=80))
def test_any_text_gives_a_value_or_a_yaml_problem_never_another_error(text):
    try:
        read_yaml(text)
    except YamlProblem:
        pass
