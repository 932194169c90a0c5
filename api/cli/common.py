"""What every `decisions` command shares: the context (settings, a runtime), JSON output, key=value arguments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import msgspec

from api.config import Settings
from engine.errors import DomainError
from engine.runtime import Runtime, open_runtime
from policy import PolicyLoadError


def echo_json(value: Any) -> None:
    click.echo(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`key=value` arguments; values are JSON when they parse (numbers, true, lists), else strings."""
    attributes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="ATTRIBUTES")
        try:
            attributes[key] = json.loads(raw)
        except ValueError:
            attributes[key] = raw
    return attributes


class Context:
    def __init__(self, database_url: str | None, policy_path: str | None) -> None:
        settings = Settings.from_env()
        self.database_url = database_url or settings.database_url
        self.policy_path = policy_path or settings.policy_path
        self.settings = settings

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        try:
            rt = open_runtime(self.database_url, self.policy_path)
        except PolicyLoadError as exc:
            raise click.ClickException(f"the policy does not load:\n{exc}") from exc
        try:
            yield rt
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            rt.close()


pass_context = click.make_pass_decorator(Context)


def person_named(rt: Runtime, name: str) -> Any:
    person = rt.policies.current.people.get(name)
    if person is None:
        raise click.ClickException(f"{name!r} is not in the policy's people directory")
    return person


def progress_counter(label: str) -> Any:
    shown = {"n": 0}

    def progress(done: int) -> None:
        if done - shown["n"] >= 10000 or done == 0:
            click.echo(f"\r{label}: {done:,} events", nl=False, err=True)
            shown["n"] = done

    return progress
