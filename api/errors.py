"""RFC 9457 problem details for every error, with msgspec's field paths restored."""

from __future__ import annotations

import errno
import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Empty
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.params import signature_fields
from engine.errors import (
    Conflict,
    DomainError,
    Forbidden,
    IdempotencyConflict,
    InvalidInput,
    LogIntegrityError,
    NotFound,
)
from policy import PolicyLoadError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_TYPE = "urn:decision-rights:problem:"
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(r"field `(?P<name>[^`]+)`")

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid content",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}

#: One problem type per kind, whoever raised it (the framework, a guard or the domain): the slug.
STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "invalid-content",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}

_DOMAIN_STATUS: list[tuple[type[DomainError], int, str]] = [
    (InvalidInput, 422, "invalid-content"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not-found"),
    (IdempotencyConflict, 409, "idempotency-key-reused"),
    (Conflict, 409, "conflict"),
    (LogIntegrityError, 503, "log-integrity"),
]


def problem(
    status: int,
    detail: str,
    slug: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    body: dict[str, Any] = {
        "type": _TYPE + (slug or STATUS_SLUGS.get(status, "error")),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_error_from_msgspec(message: str, root: str = "$") -> dict[str, str]:
    """`Expected int, got str - at $.attributes.x` -> {path: $.attributes.x, message: Expected int, got str}."""
    match = _AT_PATH.match(message)
    text = match.group("message") if match else message
    path = match.group("path") if match and match.group("path") else None
    if path is None:
        named = _NAMED_FIELD.search(text)
        path = f"$.{named.group('name')}" if named else "$"
        if named and named.start() == 0:  # "field `title` must not be blank": the path already says which
            text = text[named.end() :].strip()
    if root != "$":
        path = root + path[1:]
    return {"path": path, "message": text}


def _body_errors(request: Request[Any, Any, Any]) -> list[dict[str, str]] | None:
    """Re-decode the cached body against the handler's declared type to recover the exact path."""
    body_type = request.route_handler.opt.get("body_type")
    raw = getattr(request, "_body", Empty)
    if body_type is None or raw is Empty:
        return None
    try:
        msgspec.json.decode(raw, type=body_type)
    except msgspec.ValidationError as exc:
        return [field_error_from_msgspec(str(exc))]
    except msgspec.DecodeError as exc:
        return [{"path": "$", "message": f"the body is not valid JSON: {exc}"}]
    return None


def _client_name(request: Request[Any, Any, Any], source: str, key: str) -> str:
    """The parameter's name as the client writes it (`to`), not the handler's argument (`second`)."""
    handler = request.route_handler
    try:
        signature = dict(signature_fields(handler))  # a dependency's arguments (api.filters) included
    except AttributeError:
        return key
    parameter = signature.get(key)
    kwarg = getattr(parameter, "kwarg_definition", None) if parameter is not None else None
    written = getattr(kwarg, "query", None) or getattr(kwarg, "name", None) or getattr(kwarg, "header", None)
    return str(written or key)


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = _body_errors(request)
    if errors is None:
        errors = []
        for item in exc.extra if isinstance(exc.extra, list) else []:
            if isinstance(item, dict):
                source = str(getattr(item.get("source"), "value", item.get("source", "body")))
                key = item.get("key", "")
                if str(key).startswith("$"):
                    path = str(key)
                elif source in {"query", "path", "header", "cookie"}:
                    path = f"$.{source}.{_client_name(request, source, str(key))}"
                else:
                    path = f"$.{key}"
                errors.append({"path": path, "message": str(item.get("message", ""))})
    detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors) if errors else exc.detail
    slug = "invalid-json" if "malformed" in (exc.detail or "") else "validation"
    return problem(400, detail or "the request is invalid", slug, errors or None)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="decision-rights"')
    slug = None
    if exc.status_code == 400 and any(w in (exc.detail or "").lower() for w in ("json", "malformed", "decode")):
        slug = "invalid-json"  # the framework's own "malformed body" is the same kind as ours
    return problem(exc.status_code, exc.detail, slug, None, headers or None)


def handle_domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    for kind, status, slug in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            errors = None
            if isinstance(exc, InvalidInput):
                errors = [{"path": e.path, "message": e.message} for e in exc.errors]
            return problem(status, str(exc), slug, errors)
    return problem(400, str(exc), "domain")


def handle_policy_error(request: Request[Any, Any, Any], exc: PolicyLoadError) -> Response[Any]:
    errors = [{"path": f"{i.file}:{i.line}:{i.column}", "message": str(i)} for i in exc.issues]
    return problem(422, "the policy does not load; nothing was changed", "policy-invalid", errors)


def handle_undecodable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """msgspec raises these while decoding a body: invalid UTF-8, or nesting deeper than it recurses."""
    if request.route_handler.opt.get("body_type") is None:
        return handle_unexpected(request, exc)
    reason = "the body is not valid UTF-8" if isinstance(exc, UnicodeError) else "the body is nested too deeply"
    return problem(400, reason, "invalid-json", [{"path": "$", "message": reason}])


#: Seconds a client should wait before retrying while the database or the disk is unavailable.
RETRY_AFTER_SECONDS = 5
#: OS errors that mean "the disk cannot take it now", not "the program is wrong".
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})


def unavailable(detail: str) -> Response[Any]:
    return problem(503, detail, "unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def handle_database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Lost connection, server down, pool exhausted, SQLite busy or full: an outage, not a bug."""
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    if "full" in str(exc).lower():
        return unavailable("the database's disk is full; nothing was written, try again later")
    return unavailable("the database is unavailable; nothing was written, try again later")


def handle_os_error(request: Request[Any, Any, Any], exc: OSError) -> Response[Any]:
    if exc.errno in _DISK_ERRNOS:
        log.error("disk unavailable on %s %s: %s", request.method, request.url.path, exc)
        return unavailable("the server's disk is full or unavailable; nothing was written, try again later")
    return handle_unexpected(request, exc)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "an internal error occurred; it has been logged", "internal")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ValidationException: handle_validation,
    HTTPException: handle_http,
    DomainError: handle_domain,
    PolicyLoadError: handle_policy_error,
    UnicodeError: handle_undecodable,
    RecursionError: handle_undecodable,
    OperationalError: handle_database_unavailable,
    InterfaceError: handle_database_unavailable,
    DisconnectionError: handle_database_unavailable,
    PoolTimeout: handle_database_unavailable,
    OSError: handle_os_error,
    Exception: handle_unexpected,
}
