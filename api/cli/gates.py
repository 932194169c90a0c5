"""Gates for pipelines: `decisions gate ID` and `decisions require CATEGORY key=value...`.

Exit status: 0 the work may go ahead (resolved or approved), 1 it may not (the reason on one
line), 2 a usage error. Both run beside the database, or against a server with `--server URL`
(or DECISIONS_SERVER) and a bearer token in DECISIONS_TOKEN: a pipeline has no database.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, NoReturn

import click
import msgspec

from api.cli.common import Context, parse_pairs, pass_context, person_named
from api.cli.root import main
from engine.errors import DomainError, NotFound
from engine.gates import one_line
from engine.types import FINAL_STATUSES, FilingRequest, GateView

TIMEOUT = 30.0


class GateFailure(Exception):
    """Anything that stops a gate from answering pass: exit 1 with this line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _fail(line: str) -> NoReturn:
    click.echo(one_line(line, 1000))
    raise SystemExit(1)


class Remote:
    """The JSON API over HTTP with a bearer token (standard library only: pipelines install little)."""

    def __init__(self, server: str, token: str) -> None:
        self.server = server.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                problem = json.load(exc)
                detail = problem.get("detail") or problem.get("title") or ""
                extra = "; ".join(f"{e.get('key')}: {e.get('message')}" for e in problem.get("extra") or [] if e)
            except ValueError:
                detail, extra = exc.reason, ""
            message = f"{self.server} answered {exc.code}: {detail}{'; ' + extra if extra else ''}"
            raise GateFailure(message, exc.code) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GateFailure(f"cannot reach {self.server}: {reason}") from exc

    def gate(self, decision_id: str) -> GateView:
        return msgspec.convert(self.call("GET", f"/v1/decisions/{urllib.parse.quote(decision_id)}/gate"), GateView)


def _remote(server: str | None) -> Remote | None:
    if not server:
        return None
    token = os.environ.get("DECISIONS_TOKEN")
    if not token:
        raise click.UsageError("--server (or DECISIONS_SERVER) needs a bearer token in DECISIONS_TOKEN")
    return Remote(server, token)


def _page(base: str, decision_id: str) -> str:
    return f"{base.rstrip('/')}/decisions/{decision_id}"


def _settle(check: Callable[[], GateView], wait: float, interval: float) -> GateView:
    """Ask until it passes, cannot pass any more (final), or `wait` seconds have gone by."""
    deadline = time.monotonic() + wait
    while True:
        view = check()
        if view.passed or view.status in FINAL_STATUSES or time.monotonic() + interval > deadline:
            return view
        time.sleep(interval)


SERVER = click.option(
    "--server",
    envvar="DECISIONS_SERVER",
    default=None,
    help="The service's URL (env DECISIONS_SERVER); the token comes from DECISIONS_TOKEN. Default: the local database.",
)
WAIT = click.option(
    "--wait", type=click.FloatRange(min=0), default=0, help="Keep asking for up to this many seconds (default: once)"
)
INTERVAL = click.option("--interval", type=click.FloatRange(min=0.1), default=15.0, help="Seconds between asks")


@main.command()
@click.argument("decision_id")
@SERVER
@WAIT
@INTERVAL
@pass_context
def gate(obj: Context, decision_id: str, server: str | None, wait: float, interval: float) -> None:
    """Exit 0 only if DECISION_ID is resolved or approved (not withdrawn, rejected or superseded); else 1
    with the reason on one line."""
    remote = _remote(server)
    try:
        if remote is not None:
            view = _settle(lambda: remote.gate(decision_id), wait, interval)
        else:
            with obj.runtime() as rt:
                view = _settle(lambda: rt.service.gate(decision_id), wait, interval)
    except (GateFailure, click.ClickException) as exc:
        _fail(f"{decision_id}: {exc.message if isinstance(exc, click.ClickException) else exc}")
    except NotFound as exc:
        _fail(f"{decision_id}: {exc}")
    click.echo(f"{decision_id}: {view.reason}")
    if not view.passed:
        raise SystemExit(1)


@main.command()
@click.argument("category")
@click.argument("attributes", nargs=-1)
@click.option("--title", required=True, help="What the pipeline is about to do")
@click.option("--link", required=True, help="The change's URL (merge request, run); filing is idempotent on it")
@click.option("--rationale", default=None)
@click.option("--as", "actor", default=None, help="The filer, without --server (a person of the directory)")
@SERVER
@WAIT
@INTERVAL
@pass_context
def require(
    obj: Context,
    category: str,
    attributes: tuple[str, ...],
    title: str,
    link: str,
    rationale: str | None,
    actor: str | None,
    server: str | None,
    wait: float,
    interval: float,
) -> None:
    """Classify CATEGORY key=value...: tier 1 files it and passes; above tier 1 files it once (the same
    --link finds the same decision) and fails until it is approved, printing where to approve it."""
    remote = _remote(server)
    try:
        body = msgspec.convert(
            {
                "title": title,
                "category": category,
                "attributes": parse_pairs(attributes),
                "rationale": rationale,
                "links": [link],
            },
            FilingRequest,
        )
    except msgspec.ValidationError as exc:
        raise click.UsageError(str(exc)) from exc
    # The same link is the same decision: a re-run of the pipeline finds it instead of filing again.
    key = "require-" + hashlib.sha256(link.encode()).hexdigest()[:40]
    try:
        if remote is not None:
            filed = remote.call("POST", "/v1/decisions", msgspec.to_builtins(body), {"Idempotency-Key": key})
            decision_id, page = str(filed["id"]), _page(remote.server, str(filed["id"]))
            view = _settle(lambda: remote.gate(decision_id), wait, interval)
        else:
            if actor is None:
                raise click.UsageError("without --server, say who files it: --as PERSON")
            with obj.runtime() as rt:
                result = rt.service.file(person_named(rt, actor), body, key)
                decision_id, page = result.decision.id, _page(rt.notify.base_url, result.decision.id)
                view = _settle(lambda: rt.service.gate(decision_id), wait, interval)
    except GateFailure as exc:
        if exc.status == 409:
            _fail(f"{category}: {link} was already filed with a different title, category or attributes ({exc})")
        _fail(f"{category}: {exc}")
    except click.UsageError:
        raise
    except click.ClickException as exc:
        _fail(f"{category}: {exc.message}")
    except DomainError as exc:
        _fail(f"{category}: {exc}")
    if view.passed:
        click.echo(f"{decision_id}: {view.reason}")
        return
    where = f"; approve at {page}" if view.status not in FINAL_STATUSES else ""
    _fail(f"{decision_id}: {view.reason}{where}")
