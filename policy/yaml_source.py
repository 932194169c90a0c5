"""Strict YAML reading: one parse gives both the data and the node tree used for line numbers.

PyYAML's SafeLoader is YAML 1.1 and forgiving in ways that hurt a policy file, so this loader:
- refuses duplicate keys (PyYAML keeps the last one silently);
- refuses anchors and aliases, which also makes "billion laughs" documents impossible;
- resolves only `true`/`false` as booleans, so `no`, `yes`, `on`, `off` stay strings;
- reads integers in decimal only (`010` is 10, not octal 8) and `1e3` as a number, as YAML 1.2 does;
- has no `<<` merge keys (they need aliases anyway).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policy.errors import Path

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class YamlProblem:
    line: int
    column: int
    message: str
    hint: str | None = None


class YamlRefused(Exception):
    """The document cannot be read at all (syntax error, alias...): parsing stopped here."""

    def __init__(self, problem: YamlProblem) -> None:
        self.problem = problem
        super().__init__(problem.message)


@dataclass(slots=True)
class YamlDocument:
    data: Any
    root: Node | None
    #: Problems that did not stop parsing (duplicate keys): the document is still unusable.
    problems: list[YamlProblem] = field(default_factory=list)


class _StrictLoader(yaml.SafeLoader):
    problems: list[YamlProblem]

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent) or (
            isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None
        ):
            line, column = _position(event.start_mark)
            raise YamlRefused(
                YamlProblem(
                    line,
                    column,
                    "YAML anchors and aliases (&name, *name) are not allowed in a policy",
                    "write the value out in full; a policy stays readable without them, "
                    "and refusing them rules out alias bombs",
                )
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        first_seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first_seen.get(key)
            except TypeError:
                continue  # unhashable: the base class reports it with its position
            if earlier is not None:
                self.problems.append(
                    YamlProblem(
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        f"duplicate key '{key}' (first written at line {earlier.start_mark.line + 1})",
                        "remove or rename one of them; YAML would otherwise silently keep only the last",
                    )
                )
            else:
                first_seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: ScalarNode) -> int:  # type: ignore[override]
        return int(str(self.construct_scalar(node)))

    def construct_yaml_float(self, node: ScalarNode) -> float:  # type: ignore[override]
        text = str(self.construct_scalar(node)).lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        if text == ".nan":
            return math.nan
        return float(text)


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT, _MERGE)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictLoader.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_StrictLoader.add_constructor(_INT, _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor(_FLOAT, _StrictLoader.construct_yaml_float)


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document strictly; raises YamlRefused when it cannot be read at all."""
    try:
        # The reader checks every character when the loader is built, so this is inside the try too.
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise YamlRefused(
            YamlProblem(
                line,
                column,
                f"character {exc.character!r} is not allowed in YAML",
                "remove control characters; use a quoted \\u escape if you need one",
            )
        ) from exc
    loader.problems = []
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line, column = _position(mark)
        raise YamlRefused(YamlProblem(line, column, f"YAML syntax error: {message}", _syntax_hint(message))) from exc
    except yaml.YAMLError as exc:
        raise YamlRefused(YamlProblem(1, 1, f"YAML error: {exc}", None)) from exc
    finally:
        loader.dispose()
    return YamlDocument(data, root, loader.problems)


def _position(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _syntax_hint(message: str) -> str:
    if "\t" in message:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in message:
        return "quote a value that contains ': ', or check the indentation of this line"
    if "unhashable" in message:
        return "keys must be plain names or numbers"
    if "could not determine a constructor" in message:
        return "custom YAML tags (!name) are not allowed; write plain values"
    return "check the indentation and that every `key: value` has a space after the colon"


def node_at(root: Node | None, path: Path, *, on_key: bool = False) -> Node | None:
    """The deepest node along `path` (the key's node itself when `on_key`)."""
    node = root
    for position, part in enumerate(path):
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                    if on_key and position == len(path) - 1:
                        return key_node  # type: ignore[no-any-return]
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def position_of(root: Node | None, path: Path, *, on_key: bool = False) -> tuple[int, int]:
    """1-based (line, column) of the thing at `path`; the start of the file when there is none."""
    node = node_at(root, path, on_key=on_key)
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1
