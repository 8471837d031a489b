"""docs/BEHAVIOUR.md section 3: one PRD file → a Prd or a PrdError naming the file, the line and the fix."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.prd import (
    DEFAULT_GROUP,
    MAX_PRD_BYTES,
    Prd,
    PrdError,
    group_from_name,
    has_group_prefix,
    is_ignored,
    parse_prd,
    without_group_prefix,
)


@pytest.fixture
def prds(tmp_path: Path) -> Path:
    folder = tmp_path / "prds"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def parse(path: Path, default_cwd: str | None = None) -> Prd | PrdError:
    return parse_prd(
        path.name,
        path.read_bytes(),
        path=str(path),
        default_cwd=default_cwd or str(path.parent),
        default_model="sonnet",
    )


def error_of(path: Path, **kwargs) -> PrdError:
    result = parse(path, **kwargs)
    assert isinstance(result, PrdError), result
    assert str(path) in result.one_line()
    assert result.fix
    return result


def test_a_plain_markdown_file_is_a_valid_prd_with_defaults(prds):
    prd = parse(write(prds, "07-add-login.md", "Add a login page.\n"))
    assert isinstance(prd, Prd)
    assert prd.slug == "07-add-login"
    assert prd.title == "07-add-login"
    assert prd.group == 7
    assert prd.model == "sonnet"
    assert prd.cwd == str(prds)
    assert prd.depends_on == ()
    assert prd.body == "Add a login page.\n"


def test_frontmatter_keys_are_read_and_tilde_expands_in_cwd(prds, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "code").mkdir()
    prd = parse(
        write(
            prds,
            "03-api.md",
            "---\ntitle: Build the API\ncwd: ~/code\nparallelGroup: 5\nestimateMinutes: 30\n"
            "model: opus\ndependsOn: [01-schema, 02-db.md]\n---\nDo it.\n",
        )
    )
    assert isinstance(prd, Prd)
    assert (prd.title, prd.cwd, prd.group, prd.estimate_minutes, prd.model) == (
        "Build the API",
        str(tmp_path / "code"),
        5,
        30.0,
        "opus",
    )
    assert prd.depends_on == ("01-schema", "02-db")


def test_a_name_without_a_number_gets_group_99(prds):
    assert parse(write(prds, "cleanup.md", "Tidy up.")).group == 99


@pytest.mark.parametrize(
    ("name", "prefixed", "rest", "group"),
    [
        ("07-add-login.md", True, "add-login.md", 7),
        ("007-add-login", True, "add-login", 7),
        ("add-login.md", False, "add-login.md", DEFAULT_GROUP),
        ("7add-login.md", False, "7add-login.md", DEFAULT_GROUP),
        ("-07-add-login.md", False, "-07-add-login.md", DEFAULT_GROUP),
        ("07-08-twice.md", True, "08-twice.md", 7),
    ],
)
def test_a_name_carries_its_group_as_a_leading_number_and_dash(name, prefixed, rest, group):
    assert has_group_prefix(name) is prefixed
    assert without_group_prefix(name) == rest
    assert group_from_name(name) == group


def test_parallel_group_0_is_valid_and_overrides_the_name(prds):
    prd = parse(write(prds, "05-x.md", "---\nparallelGroup: 0\n---\nbody"))
    assert isinstance(prd, Prd) and prd.group == 0


def test_parallel_group_soon_is_invalid_with_its_line(prds):
    err = error_of(write(prds, "05-x.md", "---\ntitle: X\nparallelGroup: soon\n---\nbody"))
    assert err.line == 3
    assert "parallelGroup is 'soon'" in err.problem
    assert "parallelGroup: 2" in err.fix


def test_unknown_frontmatter_keys_are_kept(prds):
    prd = parse(write(prds, "01-x.md", "---\nowner: ana\ndue: 2026-12-01\ntags: [a, b]\n---\nbody"))
    assert isinstance(prd, Prd)
    assert prd.extra == {"owner": "ana", "due": "2026-12-01", "tags": ["a", "b"]}


def test_bad_yaml_is_invalid_with_the_file_line(prds):
    err = error_of(write(prds, "01-x.md", "---\ntitle: ok\nmodel: [opus\n---\nbody"))
    assert "not valid YAML" in err.problem
    assert err.line is not None and err.line >= 3


# Real YAML mistakes: the frontmatter's lines, the one at fault (as the user sees it in the file,
# where line 1 is the opening '---'), and words the fix must say.
YAML_MISTAKES = [
    pytest.param(["title: x", "  model: sonnet"], "  model: sonnet", "remove the spaces", id="indented-key"),
    pytest.param(["title: x", "dependsOn:", "  - a", " - b"], " - b", "indent the list items", id="list-indent"),
    pytest.param(["title: x", "dependsOn:", "  - a", " model: y"], " model: y", "line this key up",
                 id="key-indent-after-list"),
    pytest.param(['title: "Fix login', "model: sonnet"], 'title: "Fix login', "closing quote",
                 id="unclosed-double-quote"),
    pytest.param(["model: sonnet", "title: 'Fix login"], "title: 'Fix login", "closing quote",
                 id="unclosed-single-quote-last"),
    pytest.param(['title: "Fix login', 'model: "sonnet"'], 'model: "sonnet"', "quote opened on a line above",
                 id="quote-closed-a-line-later"),
    pytest.param(["title: x", "\tmodel: sonnet"], "\tmodel: sonnet", "replace the tab", id="tab-before-key"),
    pytest.param(["dependsOn:", "\t- a"], "\t- a", "replace the tab", id="tab-before-item"),
    pytest.param(["title: x", "model: a", "title: y"], "title: y", "keep one of the two title lines",
                 id="duplicate-key"),
    pytest.param(["title: Fix: login"], "title: Fix: login", "quotes around a value", id="colon-in-value"),
    pytest.param(["title:x", "model: y"], "title:x", "space after the ':'", id="no-space-after-colon"),
    pytest.param(["dependsOn: [a, b", "model: x"], "dependsOn: [a, b", "add ']'", id="unclosed-bracket"),
    pytest.param(["model: x", "meta: {a: 1"], "meta: {a: 1", "add '}'", id="unclosed-brace-last"),
    pytest.param(["title: x", "just some words", "model: y"], "just some words", "'key: value'",
                 id="line-without-colon"),
    pytest.param(["title: @home"], "title: @home", "start with '@'", id="at-sign"),
    pytest.param(['title: "a" b'], 'title: "a" b', "whole value in quotes", id="text-after-quote"),
    pytest.param(["title: x", "%foo"], "%foo", "'%'", id="percent"),
    pytest.param(["title: *x"], "title: *x", "aliases", id="undefined-alias"),
]


@pytest.mark.parametrize("line_ends", ["\n", "\r\n"])
@pytest.mark.parametrize(("frontmatter", "at_fault", "fix"), YAML_MISTAKES)
def test_a_yaml_mistake_names_its_own_line_and_what_to_do(prds, frontmatter, at_fault, fix, line_ends):
    text = line_ends.join(["---", *frontmatter, "---", "Do the task.", ""])
    err = error_of(write(prds, "01-x.md", text))
    lines = text.split(line_ends)
    assert err.line is not None and lines[err.line - 1] == at_fault, (err.line, err.problem)
    assert fix in err.fix


def test_an_unquoted_colon_in_a_title_suggests_quoting(prds):
    err = error_of(write(prds, "01-x.md", "---\ntitle: Fix: the login\n---\nbody"))
    assert err.line == 2
    assert "quotes" in err.fix


def test_frontmatter_that_never_closes_is_invalid(prds):
    err = error_of(write(prds, "01-x.md", "---\ntitle: x\nbody without end"))
    assert "never ends" in err.problem


def test_frontmatter_that_is_a_list_is_invalid(prds):
    err = error_of(write(prds, "01-x.md", "---\n- a\n- b\n---\nbody"))
    assert "not a set of 'key: value' lines" in err.problem


@pytest.mark.parametrize("body", ["", "\n\n", "   \n\t\n"])
def test_an_empty_or_whitespace_body_is_invalid(prds, body):
    err = error_of(write(prds, "01-x.md", f"---\ntitle: x\n---\n{body}"))
    assert err.problem == "the body is empty"


def test_exactly_1_mib_is_valid_and_1_mib_plus_1_byte_is_invalid(prds):
    assert isinstance(parse(write(prds, "01-big.md", b"x" * MAX_PRD_BYTES)), Prd)
    err = error_of(write(prds, "02-big.md", b"x" * (MAX_PRD_BYTES + 1)))
    assert "larger than 1 MiB" in err.problem


def test_latin_1_bytes_are_invalid_with_the_line(prds):
    err = error_of(write(prds, "01-x.md", "---\ntitle: x\n---\nCafé crème\n".encode("latin-1")))
    assert "not UTF-8" in err.problem
    assert err.line == 4
    assert "UTF-8" in err.fix


def test_a_nul_byte_is_invalid_with_the_line(prds):
    err = error_of(write(prds, "01-x.md", b"line one\nline\x00two\n"))
    assert "NUL" in err.problem
    assert err.line == 2


def test_a_utf8_bom_and_crlf_line_ends_are_accepted(prds):
    prd = parse(write(prds, "01-x.md", "\ufeff---\r\ntitle: Win\r\n---\r\nbody\r\n".encode()))
    assert isinstance(prd, Prd) and prd.title == "Win"


@pytest.mark.parametrize("name", ["my prd.md", "-lead.md", "ümlaut.md", "x" * 129 + ".md"])
def test_a_bad_name_is_invalid_and_a_valid_name_is_suggested(prds, name):
    err = error_of(write(prds, name, "body"))
    assert "not a valid PRD name" in err.problem
    assert "rename it to" in err.fix


def test_a_cwd_missing_on_disk_is_invalid(prds, tmp_path):
    err = error_of(write(prds, "01-x.md", f"---\ncwd: {tmp_path}/nowhere\n---\nbody"))
    assert err.line == 2
    assert "does not exist" in err.problem


def test_a_cwd_that_is_a_file_is_invalid(prds, tmp_path):
    (tmp_path / "afile").write_text("x")
    err = error_of(write(prds, "01-x.md", f"---\ncwd: {tmp_path}/afile\n---\nbody"))
    assert "not a folder" in err.problem


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("estimateMinutes", "soon"),
        ("estimateMinutes", "-5"),
        ("model", "[a, b]"),
        ("dependsOn", "{a: 1}"),
        ("dependsOn", "[1, 2]"),
        ("title", "true"),
        ("parallelGroup", "true"),
        ("parallelGroup", "-1"),
        ("parallelGroup", "2.5"),
        ("cwd", "42"),
    ],
)
def test_bad_types_are_invalid_and_name_the_key(prds, key, value):
    err = error_of(write(prds, "01-x.md", f"---\nowner: ana\n{key}: {value}\n---\nbody"))
    assert key in err.problem
    assert err.line == 3


def test_depending_on_itself_is_invalid(prds):
    err = error_of(write(prds, "01-x.md", "---\ndependsOn: [01-x]\n---\nbody"))
    assert "depends on itself" in err.problem


def test_the_content_hash_changes_with_the_bytes(prds):
    first = parse(write(prds, "01-x.md", "body one"))
    second = parse(write(prds, "01-x.md", "body two"))
    assert first.content_hash != second.content_hash


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        (".hidden.md", True),
        ("notes.md~", True),
        ("01-x.md.swp", True),
        ("01-x.md.tmp", True),
        ("01-x.md.part", True),
        ("01-x.md.crdownload", True),
        ("readme.txt", True),
        ("01-x.md", False),
        ("my prd.md", False),  # not ignored: listed as invalid so the user sees it
    ],
)
def test_editor_droppings_and_non_markdown_files_are_ignored(name, ignored):
    assert is_ignored(name) is ignored


# ---------------------------------------------------------------- hostile frontmatter


def test_an_alias_bomb_in_an_unknown_key_is_invalid_at_once_not_expanded(prds):
    bomb = 'lol: &a ["l","l","l","l","l","l","l","l","l"]\n' + "".join(
        f"k{index}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        for index, (previous, name) in enumerate(zip("abcdefgh", "bcdefghi", strict=True))
    )
    err = error_of(write(prds, "01-x.md", f"---\n{bomb}---\nbody"))
    assert "aliases expand to more than" in err.problem
    assert "aliases" in err.fix


@pytest.mark.parametrize("key", ["owner", "estimateMinutes", "parallelGroup"])
def test_an_integer_past_the_digit_limit_is_invalid_in_any_key(prds, key):
    err = error_of(write(prds, "01-x.md", f"---\ntitle: x\n{key}: 9{'9' * 5000}\n---\nbody"))
    assert "5001 digits" in err.problem
    assert err.line == 3
    assert "quotes" in err.fix


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN"])
def test_an_estimate_that_is_not_a_finite_number_is_invalid(prds, value):
    err = error_of(write(prds, "01-x.md", f"---\nestimateMinutes: {value}\n---\nbody"))
    assert "estimateMinutes" in err.problem and err.line == 2


def test_nan_and_infinity_in_unknown_keys_are_kept_as_text_so_queue_json_stays_json(prds):
    prd = parse(write(prds, "01-x.md", "---\nbudget: .inf\nratio: .nan\n---\nbody"))
    assert isinstance(prd, Prd)
    assert prd.extra == {"budget": "inf", "ratio": "nan"}


def test_an_unknown_key_holding_more_than_16_kb_is_invalid_with_its_line(prds):
    big = "x" * (17 * 1024)
    err = error_of(write(prds, "01-x.md", f"---\ntitle: x\nnotes: {big}\n---\nbody"))
    assert "notes" in err.problem and "16 KB" in err.problem
    assert err.line == 3
    assert isinstance(parse(write(prds, "02-x.md", f"---\nnotes: {'x' * 15000}\n---\nbody")), Prd)


def test_a_group_too_large_for_the_window_is_invalid_from_the_name_or_the_key(prds):
    from_name = error_of(write(prds, "12345678901234567890-x.md", "body"))
    assert "group number in the file name" in from_name.problem and "rename" in from_name.fix
    from_key = error_of(write(prds, "01-x.md", "---\nparallelGroup: 12345678901234567890\n---\nbody"))
    assert "parallelGroup" in from_key.problem


@pytest.mark.parametrize(
    "frontmatter",
    ["due: 2026-13-45", "a: &a [*a]", "x: !!python/object:os.system ls", "? [a, b]\n: c", "t: !!binary x%"],
)
def test_frontmatter_python_cannot_build_is_invalid_never_an_exception(prds, frontmatter):
    err = error_of(write(prds, "01-x.md", f"---\n{frontmatter}\n---\nbody"))
    assert err.problem


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_prd_or_an_error_never_an_exception(data):
    parsed = parse_prd("01-x.md", b"---\n" + data, path="/prds/01-x.md", default_cwd="/", default_model="sonnet")
    assert isinstance(parsed, (Prd, PrdError))
