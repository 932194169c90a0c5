"""Errors raised while loading a policy: every problem found, each with file:line:column and a fix."""

from __future__ import annotations

from dataclasses import dataclass

#: A place in the YAML document, as the keys and list indexes leading to it.
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in a policy file; `str()` gives `file:line:column: message. hint`."""

    file: str
    line: int
    column: int
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message.rstrip('.')}"
        return f"{text}. {self.hint}" if self.hint else text


class PolicyLoadError(Exception):
    """The policy did not load; `issues` lists every problem found, in file order."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column))
        count = len(self.issues)
        header = f"the policy has {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([header, *(str(i) for i in self.issues)]))


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """A problem found before line numbers are known: located later by its `path` in the YAML.

    `on_key` points at the mapping key itself (e.g. a misspelt key) rather than its value.
    """

    path: Path
    message: str
    hint: str | None = None
    on_key: bool = False
