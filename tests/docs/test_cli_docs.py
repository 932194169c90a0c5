"""Every `decisions ...` command that README.md and docs/ show exists, with every option they give it:
renaming a command or an option without the docs breaks this."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from api.cli import main
from tests.support import REPO

SNIPPET = re.compile(r"`decisions ([^`]+)`")
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def shown() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for match in SNIPPET.finditer(path.read_text(encoding="utf-8")):
            found.append((path.name, match.group(1)))
    return found


def resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = main
    while words and isinstance(command, click.Group) and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    return command, words


@pytest.mark.parametrize(("doc", "snippet"), shown(), ids=[f"{d}:{s[:40]}" for d, s in shown()])
def test_a_documented_command_and_its_options_exist(doc: str, snippet: str) -> None:
    words = shlex.split(snippet.replace("[", " ").replace("]", " ").replace("...", " "))
    command, rest = resolve(words)
    assert not isinstance(command, click.Group) or not rest or rest[0].startswith("-"), (
        f"{doc}: `decisions {snippet}`: no command {rest[0]!r} under `{command.name}`"
    )
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
    for word in rest:
        option = word.split("=", 1)[0]
        if option.startswith("-"):
            assert option in known, f"{doc}: `decisions {snippet}`: {command.name} has no option {option}"


def test_token_create_help_names_both_scopes() -> None:
    command, _ = resolve(["token", "create"])
    scope = next(p for p in command.params if p.name == "scope")
    assert isinstance(scope.type, click.Choice) and list(scope.type.choices) == ["read", "full"]
    assert scope.default == "full"
