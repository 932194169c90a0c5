"""Query and path parameters checked at the boundary: RFC 3339 instants, no control characters.

Litestar would read `?since=1` as a Unix time and accept a naive or unrepresentable instant
that fails later as a 500; PostgreSQL cannot compare text with a NUL. Each refusal is a 400
naming the parameter as the client wrote it (`$.query.since`, `$.path.decision_id`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from litestar.connection import ASGIConnection
from litestar.enums import ParamType
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import QueryParameter

from engine import hygiene

#: RFC 3339 date-time: date, time, optional fraction, and a mandatory offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: A query parameter holding an instant; parse it with `instant_param`.
InstantQuery = Annotated[
    str | None,
    QueryParameter(
        format=OpenAPIFormat.DATE_TIME,
        description="An RFC 3339 instant with its offset, e.g. 2026-03-02T09:00:00Z",
        # Documented: the offset is hours and minutes, the fraction at most nanoseconds (instant_param checks).
        schema_extra={"pattern": _RFC3339.pattern},
    ),
]


def refused(source: str, name: str, message: str) -> ValidationException:
    return ValidationException(
        f"{source} parameter {name}: {message}", extra=[{"key": name, "source": source, "message": message}]
    )


def instant_param(name: str, raw: str | None) -> datetime | None:
    """The UTC instant a query parameter names, or None when absent; a 400 naming it otherwise."""
    if raw is None:
        return None
    # fromisoformat alone takes a bare date or a naive time; the pattern admits only RFC 3339.
    if not _RFC3339.match(raw):
        raise refused("query", name, "must be an RFC 3339 instant with an offset, e.g. 2026-03-02T09:00:00Z")
    try:
        value = datetime.fromisoformat(raw.replace("z", "Z").replace("t", "T"))
        return hygiene.instant(name, value)
    except ValueError as exc:
        message = str(exc).replace(f"field `{name}` ", "")
        raise refused("query", name, message) from None


def refuse_control_characters(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """No query or path parameter may carry a control character (NUL included), on either backend."""
    for name, value in connection.query_params.multi_items():
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise refused(ParamType.QUERY.value, name.encode("unicode_escape").decode(), "contains a control character")
    for name, value in connection.path_params.items():
        if isinstance(value, str) and _CONTROL.search(value):
            raise refused(ParamType.PATH.value, name, "contains a control character")


def refuse_null_for_typed(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """`?tier=null` is a 400, not "no tier": the document promises an integer, not JSON's null.

    Litestar converts the word `null` to None for any optional parameter, so a client that serialised
    a missing value as "null" would silently get the unfiltered answer. Text parameters keep the word
    (a search for "null" is a search).
    """
    if "null" not in connection.query_params.values():
        return
    for name, field in handler.parsed_fn_signature.parameters.items():
        if not field.is_optional:
            continue
        query_name = getattr(field.kwarg_definition, "query", None) or name
        if connection.query_params.get(query_name) != "null":
            continue
        types = [inner.annotation for inner in field.inner_types if inner.annotation is not type(None)]
        if types and str not in types:
            raise refused(ParamType.QUERY.value, query_name, "must be a value of its type or left out, not null")


class _Object(dict[str, Any]):
    duplicate: str | None = None


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    for key, value in pairs:
        if key in obj and obj.duplicate is None:
            obj.duplicate = key
        obj[key] = value
    return obj


def _first_duplicate(value: Any, path: str) -> str | None:
    if isinstance(value, _Object):
        if value.duplicate is not None:
            return f"{path}.{value.duplicate}"
        items: Any = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _first_duplicate(item, f"{path}{key}" if key.startswith("[") else f"{path}.{key}")
        if found:
            return found
    return None


def duplicate_key(body: bytes) -> str | None:
    """The path of the first key a JSON object repeats (`$.attributes.risk_score`), else None.

    Decoders keep the last of repeated keys silently, so `{"risk_score": 5, "risk_score": 90}`
    would be filed as 90 by us and read as 5 by a proxy or log reader that keeps the first.
    Bodies that are not JSON are left for the decoder to refuse with its own message.
    """
    if b'"' not in body:
        return None
    try:
        parsed = json.loads(body, object_pairs_hook=_object)
    except (ValueError, RecursionError):
        return None
    return _first_duplicate(parsed, "$")
