"""Loading `policies.yaml`: strict YAML, msgspec types, meaning checks, compilation; all or nothing.

The happy path is one strict parse, one `msgspec.convert` and one compile. Only when msgspec
refuses the document does the loader walk it piece by piece (policy.decode) so that every
problem is reported in one pass, each located with file:line:column from the YAML node tree.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path as FilePath
from typing import Any

import msgspec

from policy.compiled import Location, Policy
from policy.compiler import Broken, SpecInvalid, compile_pieces, compile_policy
from policy.decode import convert_fields
from policy.errors import Path, PolicyIssue, PolicyLoadError, SpecIssue
from policy.spec import PolicySpec
from policy.yaml_source import YamlDocument, YamlRefused, parse_yaml, position_of


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Load and compile the policy file at `path`; raises PolicyLoadError listing every problem."""
    file = FilePath(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PolicyLoadError(
            [
                PolicyIssue(
                    str(file),
                    1,
                    1,
                    f"cannot read the policy file: {reason}",
                    "check the path (DECISIONS_POLICY) and the file's permissions",
                )
            ]
        ) from exc
    return _load(raw, str(file))


def read_policy_text(path: str | os.PathLike[str]) -> str:
    """The policy file's text exactly as its bytes say, CRLF included: `load_policy_text` of it has the
    version `load_policy` gives the file (the SHA-256 of its bytes). `Path.read_text` translates line
    endings, and a CRLF file's text then hashed to another version than the one stored beside it.
    Raises OSError as reading does, and PolicyLoadError (file:line:column) for bytes that are not UTF-8."""
    raw = FilePath(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(raw, exc, str(path)) from None


def load_policy_text(text: str, filename: str = "<policy>") -> Policy:
    """Load and compile policy YAML given as text; `filename` is used in messages and as `source`."""
    return _load(text.encode("utf-8"), filename)


def _load(raw: bytes, filename: str) -> Policy:
    version = hashlib.sha256(raw).hexdigest()
    document = _parse(raw, filename)
    issues = [PolicyIssue(filename, p.line, p.column, p.message, p.hint) for p in document.problems]
    data = document.data
    if not isinstance(data, Mapping):
        what = "empty" if data is None else "not a mapping of keys"
        raise PolicyLoadError(
            [*issues, PolicyIssue(filename, 1, 1, f"the policy is {what}", "start from the default policies.yaml")]
        )

    def locate(path: Path) -> Location:
        return Location(filename, *position_of(document.root, path))

    def place(issue: SpecIssue) -> PolicyIssue:
        line, column = position_of(document.root, issue.path, on_key=issue.on_key)
        return PolicyIssue(filename, line, column, issue.message, issue.hint)

    written = frozenset(str(key) for key in data)
    try:
        spec = msgspec.convert(data, PolicySpec)
    except msgspec.ValidationError as exc:
        spec_issues: list[SpecIssue] = []
        pieces = convert_fields(data, PolicySpec, (), spec_issues)
        _, meaning_issues = compile_pieces(
            pieces, version=version, source=filename, locate=locate, broken=_broken(data, pieces), written=written
        )
        found = [place(i) for i in [*spec_issues, *meaning_issues]]
        if not found:  # never report "0 problems": fall back to msgspec's own words
            found = [PolicyIssue(filename, 1, 1, str(exc), "see the policy schema (`decisions policy schema`)")]
        raise PolicyLoadError([*issues, *found]) from None
    try:
        policy = compile_policy(spec, version=version, source=filename, locate=locate, written=written)
    except SpecInvalid as exc:
        raise PolicyLoadError([*issues, *(place(i) for i in exc.issues)]) from None
    if issues:
        raise PolicyLoadError(issues)
    return policy


def _not_utf8(raw: bytes, exc: UnicodeDecodeError, filename: str) -> PolicyLoadError:
    before = raw[: exc.start]
    line = before.count(b"\n") + 1
    column = exc.start - (before.rfind(b"\n") + 1) + 1
    return PolicyLoadError([PolicyIssue(filename, line, column, "the file is not valid UTF-8", "save it as UTF-8")])


def _parse(raw: bytes, filename: str) -> YamlDocument:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(raw, exc, filename) from None
    try:
        return parse_yaml(text.removeprefix("\ufeff"))
    except YamlRefused as exc:
        p = exc.problem
        raise PolicyLoadError([PolicyIssue(filename, p.line, p.column, p.message, p.hint)]) from None


def _broken(data: Mapping[str, Any], pieces: Mapping[str, Any]) -> Broken:
    """Names written in the file whose declarations failed to convert (so already reported)."""

    def written(key: str) -> set[Any]:
        section = data.get(key)
        return set(section) if isinstance(section, Mapping) else set()

    def converted(key: str) -> set[Any]:
        return set(pieces.get(key, {}))

    return Broken(
        parameters=frozenset(str(n) for n in written("parameters") - converted("parameters")),
        reviews=frozenset(str(n) for n in written("reviews") - converted("reviews")),
        tiers=frozenset(n for n in written("tiers") - converted("tiers") if isinstance(n, int)),
        categories=frozenset(str(n) for n in written("categories") - converted("categories")),
    )
