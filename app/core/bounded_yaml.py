"""YAML from files Overnight does not control (PRD frontmatter, config.yaml), read with bounds.

A kilobyte of YAML can describe gigabytes through aliases (each `*a` repeats a whole
subtree), refer to itself, or hold an integer too long for Python to convert. Any of these
must make that one file invalid with a message, never stall the engine, crash it, or
reach queue.json. So the document is composed into nodes first, its expanded size is
counted without expanding it, and only then is it built into Python values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import ConstructorError

from app.core.text import shorten

# Values a document may expand to, counting every alias's subtree each time it is used.
MAX_EXPANDED_VALUES = 10_000

if TYPE_CHECKING:  # the stubs give only the pure loader its parser's methods; libyaml's has them too
    _Base = yaml.SafeLoader
else:
    try:  # libyaml's parser is fast and bounds nesting at 1,000 levels
        _Base = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover - PyYAML built without libyaml
        _Base = yaml.SafeLoader


class YamlProblem(ValueError):
    """What is wrong with a YAML text, and where (1-based line and column, when known)."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column  # 1-based, when known


@dataclass(frozen=True, slots=True)
class Document:
    node: yaml.Node | None  # the composed document, for callers that want each key's line
    data: Any


class _Loader(_Base):
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            # A date like 2026-13-45, an integer past Python's 4,300-digit limit: a value
            # YAML accepts that Python cannot build. Said where it is, like a syntax error.
            raise ConstructorError(None, None, _value_problem(node, exc), node.start_mark) from exc


def _value_problem(node: yaml.Node, exc: Exception) -> str:
    text = node.value if isinstance(node.value, str) else ""
    if node.tag == "tag:yaml.org,2002:int" and "digits" in str(exc):
        return f"the number {text[:12]}… has {len(text)} digits, more than a number may have"
    return f"the value {shorten(text, 40)!r} cannot be read ({exc})"


def read_yaml(text: str) -> Document:
    """The document in `text` (None when empty), or YamlProblem."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, None)
        if "*" in text:  # only an alias (*name) can make a document bigger than its text
            _check_size(node)
        return Document(node, loader.construct_document(node))
    except yaml.YAMLError as exc:
        raise _problem(exc) from exc
    except RecursionError as exc:  # only without libyaml: the pure parser recurses per level
        raise YamlProblem("the YAML is nested too deeply") from exc
    finally:
        loader.dispose()


# Where the parser notices these, the mistake is already behind it: an unclosed quote or bracket is
# found at the end of the text, a line without ':' on the line after. Its context points at the start.
_STARTED_EARLIER = ("while scanning a quoted scalar", "while scanning a simple key", "while parsing a flow")


def _problem(exc: yaml.YAMLError) -> YamlProblem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None) or ""
    start = getattr(exc, "context_mark", None)
    if context.startswith(_STARTED_EARLIER) and start is not None:
        return YamlProblem(f"{problem} {context} that starts at column {start.column + 1}",
                           start.line + 1, start.column + 1)
    if mark is None:
        return YamlProblem(problem)
    return YamlProblem(f"{problem} at column {mark.column + 1}", mark.line + 1, mark.column + 1)


def _check_size(root: yaml.Node) -> None:
    """Counts the values `root` expands to, each alias's subtree as often as it is used,
    in time linear in the distinct nodes; refuses a document that refers to itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > MAX_EXPANDED_VALUES:
                raise YamlProblem(
                    f"its aliases expand to more than {MAX_EXPANDED_VALUES:,} values",
                    node.start_mark.line + 1,
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlProblem("an alias refers to the value that contains it", node.start_mark.line + 1)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []

