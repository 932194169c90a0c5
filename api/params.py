"""Query and path parameters checked at the boundary: RFC 3339 instants, no control characters,
no query parameter the operation does not declare.

Litestar would read `?since=1` as a Unix time and accept a naive or unrepresentable instant
that fails later as a 500; PostgreSQL cannot compare text with a NUL; and it ignores a query
parameter no handler argument takes, so `?catgory=contract` would answer the unfiltered list.
Each refusal is a 400 naming the parameter as the client wrote it (`$.query.since`,
`$.path.decision_id`, `$.query.catgory`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar.connection import ASGIConnection
from litestar.enums import ParamType
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import QueryParameter
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from litestar.typing import FieldDefinition

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
    for name, field in signature_fields(handler):
        if not field.is_optional:
            continue
        query_name = _query_name(name, field.kwarg_definition)
        if connection.query_params.get(query_name) != "null":
            continue
        types = [inner.annotation for inner in field.inner_types if inner.annotation is not type(None)]
        if types and str not in types:
            raise refused(ParamType.QUERY.value, query_name, "must be a value of its type or left out, not null")


def signature_fields(handler: BaseRouteHandler) -> Iterator[tuple[str, FieldDefinition]]:
    """The arguments Litestar reads a request into for a handler, in order; a dependency's in its place.

    `filters: DecisionFilter` (or `ExportFilter`) is no query parameter: the arguments of the dependency
    that makes it (`api.filters`) are, as Litestar's kwargs model and the OpenAPI document count them.
    """
    providers = handler.resolve_dependencies()

    def walk(parameters: Mapping[str, FieldDefinition]) -> Iterator[tuple[str, FieldDefinition]]:
        for name, field in parameters.items():
            provider = providers.get(name)
            if provider is None:
                yield name, field
            else:
                yield from walk(provider.parsed_fn_signature.parameters)

    return walk(handler.parsed_fn_signature.parameters)


def _query_name(argument: str, kwarg: Any) -> str:
    """The name a client writes for a handler argument: `QueryParameter(name="to")` is `?to=`, not `?second=`."""
    if getattr(kwarg, "query", None):
        return str(kwarg.query)
    if getattr(kwarg, "param_type", None) == ParamType.QUERY and getattr(kwarg, "name", None):
        return str(kwarg.name)
    return argument


@dataclass(frozen=True)
class DeclaredQuery:
    """The query parameters Litestar extracts for one handler on one path, as clients write them."""

    names: tuple[str, ...]
    #: Those that take a list (`?x=1&x=2`); every other one takes a single value.
    repeatable: frozenset[str]


#: `handler.opt` key: path template -> DeclaredQuery, recorded by `DeclaredQueryParameters`.
DECLARED_QUERY = "declared_query"


class DeclaredQueryParameters(ReceiveRoutePlugin):
    """Records, for every handler, the query parameters of the kwargs model Litestar built for its route.

    That model is what Litestar reads the query string with (the handler's own arguments, its
    dependencies' and any layered `parameters=`), so what is refused is exactly what would be
    ignored, and a parameter added to a handler is accepted without anyone listing it.
    """

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler, kwargs_model in route.route_handler_map.values():
            declared = DeclaredQuery(
                names=tuple(sorted({p.field_alias for p in kwargs_model.expected_query_params})),
                repeatable=frozenset(kwargs_model.sequence_query_parameter_names),
            )
            # The route holds the app's own copy of the handler: assign, never mutate the shared opt dict.
            known: Mapping[str, DeclaredQuery] = handler.opt.get(DECLARED_QUERY, {})
            handler.opt = {**handler.opt, DECLARED_QUERY: {**known, route.path_format: declared}}


#: Longest parameter name a refusal repeats back.
_SHOWN_NAME = 64


def _shown(name: str) -> str:
    """A client's parameter name, safe to repeat: printable ASCII (escaped otherwise), bounded."""
    if not name:
        return "''"
    shown = name if name.isascii() and name.isprintable() else name.encode("unicode_escape").decode()
    return shown if len(shown) <= _SHOWN_NAME else shown[:_SHOWN_NAME] + "..."


def refuse_undeclared_query(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """A query parameter the operation does not declare is a 400, not a filter silently dropped.

    `?catgory=contract` or `?filed-by=jon` would otherwise answer the whole list with 200. A
    parameter given twice (`?status=pending&status=approved`) is refused too: the handler would
    use one value and drop the other without a word. Each refusal names the parameter as the
    client wrote it and lists the ones the operation takes.
    """
    if not connection.scope.get("query_string"):
        return
    template = str(connection.scope.get("path_template", ""))
    declared = handler.opt.get(DECLARED_QUERY, {}).get(template)
    if declared is None:  # DeclaredQueryParameters is not among the app's plugins: refuse to guess
        raise RuntimeError(f"no declared query parameters recorded for {template!r}; install DeclaredQueryParameters")
    operation = f"{connection.scope.get('method', 'GET')} {template}"
    accepted = ", ".join(declared.names)
    counts = Counter(name for name, _ in connection.query_params.multi_items())
    errors: list[dict[str, str]] = []
    for name, count in sorted(counts.items()):  # Litestar's MultiDict keeps no order: name them A-Z
        if name not in declared.names:
            if not declared.names:
                message = f"not a parameter of {operation}, which takes no query parameters"
            else:
                close = difflib.get_close_matches(name.lower(), declared.names, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else ""
                message = f"not a parameter of {operation}{hint}; it accepts {accepted}"
            errors.append({"key": f"$.query.{_shown(name)}", "source": "query", "message": message})
        elif count > 1 and name not in declared.repeatable:
            message = f"given {count} times; it takes one value"
            errors.append({"key": f"$.query.{name}", "source": "query", "message": message})
    if errors:
        detail = "; ".join(f"{e['key']}: {e['message']}" for e in errors)
        raise ValidationException(detail, extra=errors)


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
