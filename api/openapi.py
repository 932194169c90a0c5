"""What the OpenAPI document must say that Litestar cannot infer from the handlers.

- Every error is RFC 9457 problem details (`api.errors`): one `Problem` schema, referenced by every
  error response. The statuses a route can return follow from its shape (guarded, which includes
  refusing undeclared query parameters; has a body; has parameters) plus what its handler declares
  with `responses=problems(...)` (404 for an id that may not exist, 409 for a state that refuses,
  422 for content refused on its merits).
- Some successes come in more than one media type (`Variants`); some answers carry a header worth
  documenting (`WithHeaders`: the Retry-After of /readyz's 503, the Allow of a probe's 405).
- Request bodies whose Struct forbids unknown fields say `additionalProperties: false`.
- Each operation's description ends with who may call it (its `opt["roles"]`).

Kept in one place so a route added anywhere gets the same truths without repeating them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Schema,
)
from litestar.plugins import OpenAPISchemaPlugin, ReceiveRoutePlugin
from litestar.routes import HTTPRoute
from msgspec import Meta, Struct

from api.auth import authorize
from api.errors import PROBLEM_JSON

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.routes import BaseRoute
    from litestar.typing import FieldDefinition


class FieldProblem(Struct, kw_only=True):
    path: Annotated[
        str, Meta(description="Where: `$.attributes.risk_score` in the body, `$.query.since` for a parameter.")
    ]
    message: str


class Problem(Struct, kw_only=True):
    """RFC 9457 problem details, sent as `application/problem+json` (the body `api.errors.problem` builds)."""

    type: Annotated[
        str, Meta(description="The kind of problem, stable across releases: `urn:decision-rights:problem:<kind>`.")
    ]
    title: Annotated[str, Meta(description="The status in words.")]
    status: Annotated[int, Meta(description="The HTTP status, repeated.")]
    detail: Annotated[str, Meta(description="What went wrong, in a sentence a person can act on.")]
    errors: Annotated[
        list[FieldProblem],
        Meta(description="One entry per refused field or parameter; absent when the problem is not about content."),
    ] = msgspec.field(default_factory=list)


WHY: dict[int, str] = {
    400: "The request is malformed: not JSON, a field or parameter of the wrong type or out of range, or a query "
    "parameter this operation does not declare (or one given twice). `errors` names each one.",
    401: "No credentials, or a token that is unknown, revoked or expired "
    "(the `WWW-Authenticate` header says how to authenticate).",
    403: "Authenticated, but this person may not do this: their roles, the decision's rules, or a token of "
    "scope read on an operation that changes something.",
    404: "Nothing with this id (or nothing of this kind yet).",
    409: "The current state does not allow this (already decided, not pending, a quorum rule), "
    "or an Idempotency-Key reused with a different body.",
    413: "The body is larger than the service accepts (64 KiB).",
    415: "The body is not `application/json`.",
    422: "Well-formed, but its content is refused (an attribute the policy does not allow, a missing "
    "reason). `errors` names each field.",
    503: "The service cannot serve this now (database or disk unavailable, or the log refuses appends); "
    "nothing was changed. Retry after the `Retry-After` header's seconds.",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """`responses=` for a handler: these statuses, each answered with a `Problem`."""
    return {
        status: ResponseSpec(
            data_container=Problem, media_type=PROBLEM_JSON, description=WHY[status], generate_examples=False
        )
        for status in statuses
    }


@dataclass
class WithHeaders(ResponseSpec):
    """A response that carries headers worth documenting: name -> what it says."""

    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Variants(ResponseSpec):
    """A success answered in more than one media type: `data_container` as `media_type`, and each of
    `alternatives` (media type -> what it holds) as text."""

    alternatives: Mapping[str, str] = field(default_factory=dict)


#: Every route behind the bearer guard can fail authentication or authorisation, and needs the database;
#: the guard refuses a query parameter the route does not declare (api.params.refuse_undeclared_query).
GUARDED = (400, 401, 403, 503)
#: A JSON body can be malformed, too large, of another media type, or refused on its merits.
BODY = (400, 413, 415, 422)


def _derived_statuses(route: HTTPRoute, handler: HTTPRouteHandler) -> set[int]:
    statuses: set[int] = set()
    if authorize in handler.resolve_guards():
        statuses.update(GUARDED)
    parameters = handler.parsed_fn_signature.parameters
    if "data" in parameters:
        statuses.update(BODY)
    if any(name not in {"data", "request", "self"} for name in parameters):
        statuses.add(400)
    return statuses


def _roles_note(handler: HTTPRouteHandler) -> str | None:
    roles = handler.opt.get("roles")
    if not isinstance(roles, frozenset | set):
        return None
    return "Who may call: " + ", ".join(f"`{r}`" for r in sorted(roles)) + "."


_BOUNDS = (
    "minimum",
    "maximum",
    "exclusive_minimum",
    "exclusive_maximum",
    "min_length",
    "max_length",
    "pattern",
    "format",
    "description",
)


def _without_null(schema: Schema) -> Schema:
    """An optional parameter is absent or a value, never JSON null (a query string cannot say null):
    Litestar's `oneOf: [T, null]` gives client generators a union to model where a `T` will do."""
    branches = [b for b in schema.one_of or [] if not (isinstance(b, Schema) and b.type == OpenAPIType.NULL)]
    if schema.one_of and len(branches) == 1 and isinstance(branches[0], Schema):
        single = branches[0]
        for bound in _BOUNDS:  # Litestar puts a parameter's bounds beside the oneOf
            if getattr(single, bound) is None:
                setattr(single, bound, getattr(schema, bound))
        single.default = schema.default if single.default is None else single.default
        return single
    if isinstance(schema.type, list) and OpenAPIType.NULL in schema.type:
        rest = [t for t in schema.type if t != OpenAPIType.NULL]
        schema.type = rest[0] if len(rest) == 1 else rest
        if schema.enum is not None:
            schema.enum = [v for v in schema.enum if v is not None]
    return schema


#: What api.params.refuse_control_characters refuses in every path and query parameter behind the guard.
NO_CONTROL_CHARACTERS = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"


def _no_control_characters(schema: Schema) -> None:
    if schema.type == OpenAPIType.STRING and schema.pattern is None and schema.enum is None and schema.format is None:
        schema.pattern = NO_CONTROL_CHARACTERS


def _operation_class(
    handler: HTTPRouteHandler, variants: dict[str, Mapping[str, str]], headers: dict[str, Mapping[str, str]]
) -> type[Operation]:
    """An Operation subclass that finishes this handler's operation once Litestar has built it."""
    note = _roles_note(handler)
    guarded = authorize in handler.resolve_guards()
    public = not guarded

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if public:
                # Said explicitly: no security requirement (Litestar omits an empty one).
                self.security = []
            for parameter in self.parameters or []:
                if isinstance(parameter, Parameter) and isinstance(parameter.schema, Schema):
                    parameter.schema = _without_null(parameter.schema)
                    if guarded and parameter.param_in in ("path", "query"):
                        _no_control_characters(parameter.schema)
            parts = [p for p in (self.description, note) if p]
            self.description = "\n\n".join(parts) or self.summary
            for status, alternatives in variants.items():
                response = (self.responses or {}).get(status)
                if isinstance(response, OpenAPIResponse):
                    response.content = dict(response.content or {})
                    for media_type, holds in alternatives.items():
                        response.content[media_type] = OpenAPIMediaType(
                            schema=Schema(type=OpenAPIType.STRING, description=holds)
                        )
            for status, named in headers.items():
                response = (self.responses or {}).get(status)
                if isinstance(response, OpenAPIResponse):
                    response.headers = {
                        **(response.headers or {}),
                        **{
                            name: OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=says)
                            for name, says in named.items()
                        },
                    }

    return DocumentedOperation


class ProblemResponses(ReceiveRoutePlugin):
    """Completes each documented operation: its problem responses, media variants and who may call it."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        for handler in route.route_handlers:
            # The route holds the app's own copy of each handler: assigning (never mutating) its
            # attributes leaves the module-level handler, shared by every app built, untouched.
            if not handler.resolve_include_in_schema():
                continue
            declared = dict(handler.responses or {})
            derived = {s: spec for s, spec in problems(*_derived_statuses(route, handler)).items() if s not in declared}
            handler.responses = dict(sorted({**derived, **declared}.items()))
            variants = {str(s): spec.alternatives for s, spec in declared.items() if isinstance(spec, Variants)}
            headers = {str(s): spec.headers for s, spec in declared.items() if isinstance(spec, WithHeaders)}
            handler.operation_class = _operation_class(handler, variants, headers)


class StrictBodies(OpenAPISchemaPlugin):
    """Litestar documents a Struct's fields but not that it refuses unknown ones: say so."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        config = getattr(field_definition.type_, "__struct_config__", None)
        return (
            not field_definition.is_union
            and field_definition.is_subclass_of(Struct)
            and config is not None
            and config.forbid_unknown_fields
        )

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        # Litestar's own Struct plugin comes after this one: let it build the schema, then tighten it.
        builtin = next(
            p
            for p in schema_creator.plugins
            if p is not self and schema_creator.plugin_supports_field(p, field_definition)
        )
        schema: Schema = builtin.to_openapi_schema(field_definition, schema_creator)  # type: ignore[union-attr]
        schema.additional_properties = False
        _constrain_items(schema, msgspec.json.schema(field_definition.type_))
        return schema


_ITEM_CONSTRAINTS = {"pattern": "pattern", "maxLength": "max_length", "minLength": "min_length"}


def _constrain_items(schema: Schema, exact: dict[str, Any]) -> None:
    """Litestar drops the constraints of a list's items (`list[Url]` becomes a list of any string);
    msgspec, which does the validating, knows them: copy them over."""
    definition = exact["$defs"][exact["$ref"].rsplit("/", 1)[-1]]
    for name, prop in (schema.properties or {}).items():
        items = definition["properties"].get(name, {}).get("items", {})
        if isinstance(prop, Schema) and isinstance(prop.items, Schema):
            for key, attribute in _ITEM_CONSTRAINTS.items():
                if key in items and getattr(prop.items, attribute) is None:
                    setattr(prop.items, attribute, items[key])


PLUGINS = (ProblemResponses(), StrictBodies())
