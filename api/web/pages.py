"""Server-rendered pages: sign-in, inbox, decisions, filing form with a live tier preview, audit.

Every page declares its roles like the API does; every action goes through the same
service calls as the API, so the server enforces the rules again whatever the page showed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, post, route
from litestar.enums import HttpMethod
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from api.auth import APPROVERS, AUDITORS, DECIDERS, EVERYONE, FILERS, authenticate, runtime_of
from api.controllers.log import MEDIA as EXPORT_MEDIA
from api.web.forms import field_errors_from_paths, field_input_name, parse_attributes
from api.web.names import person_element
from api.web.oidc import oidc_of, site_url
from api.web.session import current_session, end_session, start_session
from api.web.times import time_element
from engine.decision_export import decisions_csv
from engine.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from engine.log.autosign import checkpoint_every_from_env, checkpoint_lag, log_size, sign_before_export
from engine.log.export import ExportFilter, export_lines
from engine.log.jobs import start_job
from engine.log.verifications import latest as latest_stored
from engine.sessions import token_id_of
from engine.store.search import MAX_QUERY, search_terms
from engine.text_safety import one_line
from engine.types import (
    INBOX_SORTS,
    CommentRequest,
    DecisionFilter,
    DecisionSort,
    FilingRequest,
    InboxItem,
    InboxSort,
    ProceedRequest,
    VerdictRequest,
    WithdrawRequest,
)
from engine.words import category_words
from policy.compiled import Person, Policy

T = TypeVar("T")
#: Seconds the audit page waits for the first full verification of a database before showing it as running.
FIRST_VERIFICATION_WAIT = 10.0
#: A page answers GET and HEAD (link checkers and monitors ask for headers only).
page = functools.partial(route, http_method=[HttpMethod.GET, HttpMethod.HEAD])
B = TypeVar("B", bound=msgspec.Struct)

STATUSES = [
    "pending",
    "proceeded_pending_review",
    "approved",
    "rejected",
    "resolved",
    "withdrawn",
    "superseded",
]


async def _call(fn: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(fn, *args)


def _page(request: Request[Any, Any, Any], name: str, status_code: int = 200, **context: Any) -> Template:
    runtime = runtime_of(request)
    policy = runtime.policies.current
    return Template(
        template_name=name,
        context={"user": request.scope.get("user"), "policy": policy, "path": request.url.path,
                 "category_words": functools.partial(category_words, policy),
                 "person": functools.partial(person_element, policy),
                 "when": _when(policy, runtime.service.clock()), **context},
        status_code=status_code,
    )  # fmt: skip


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _when(policy: Policy, now: datetime) -> Callable[[datetime | None], Any]:
    """What pages write for an instant: `<time datetime="(UTC)">Tue 1 Dec 14:00 CET</time>`, in the policy's zone."""
    return functools.partial(time_element, tz=policy.timezone, now=now)


def _excerpt(text: str | None, limit: int = 220) -> str:
    """The first words of a rationale on one line, cut at a word before `limit` characters."""
    if not text:
        return ""
    line = one_line(text)
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def _why(view: Any) -> str:
    """Why this tier, from the classifier's own explanation: the rules that raised it, else the base tier."""
    raising = [r for r in view.explanation.matched_rules if r.tier > view.explanation.base_tier]
    if not view.explanation.known_category:
        return "the policy does not know this category, so it fails closed"
    if not raising:
        return f"the base tier of {view.category}"
    return "; ".join(r.description or r.id for r in raising)


def _title_of(runtime: Any, decision_id: str) -> str:
    """A decision named by its title (a link's words), else its id."""
    try:
        return str(runtime.service.get(decision_id).title)
    except NotFound:
        return decision_id


def _escalation(policy: Policy, item: InboxItem) -> dict[str, Any] | None:
    """Why an item was escalated here, in words (the API's `escalation` says the same with the UTC instant):
    overdue since when, and which tier escalates to whom."""
    if not item.escalated or item.due_at is None:
        return None
    tier = policy.tiers.get(item.decision.tier)
    to = tier.escalate_to if tier is not None else None
    return {
        "since": item.due_at,
        "tier": f"tier {item.decision.tier}" + (f" ({tier.name})" if tier is not None else ""),
        "to": (person_element(policy, to) if to in policy.people else to.replace("_", " ")) if to else None,
    }


def _waited(seconds: float) -> str:
    hours = int(seconds // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {int(seconds % 3600 // 60)}m"


class SignIn(Controller):
    path = ""
    tags = ["web"]
    include_in_schema = False

    @page("/login", opt={"public": True}, sync_to_thread=False)
    def login_form(self, request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Template:
        return Template(
            template_name="login.html.j2",
            context={"next": _safe_next(next), "user": None, "path": "/login", "oidc": oidc_of(request) is not None},
        )

    @post("/login", opt={"public": True}, status_code=303)
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await _form(request)
        token = form.get("token", "").strip()
        holder = await authenticate(request, token) if token else None
        # The pages act with the person's full rights: a read-only token does not open them.
        error = None
        if holder is None:
            error = "That token is unknown or revoked."
        elif holder.scope == "read":
            error = "That token is read-only (scope read): it works on the API only; sign in with a full one."
        if holder is None or error is not None:
            return Template(
                template_name="login.html.j2",
                context={"next": _safe_next(form.get("next", "/")), "error": error,
                         "user": None, "path": "/login", "oidc": oidc_of(request) is not None},
                status_code=401 if holder is None else 403,
            )  # fmt: skip
        response = Redirect(_safe_next(form.get("next", "/")), status_code=303)
        await start_session(request, response, holder.person.name, via="token", token_id=token_id_of(token))
        return response

    @post("/logout", opt={"public": True}, status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        target = "/login"
        session = await current_session(request)
        oidc = oidc_of(request)
        if session is not None and session.via == "oidc" and oidc is not None and oidc.web is not None:
            # RP-initiated logout: the provider ends its own session too, then sends the browser back here.
            target = await oidc.web.logout_url(session.id_token, site_url(request, "/login")) or target
        response = Redirect(target, status_code=303)
        await end_session(request, response)
        return response


def _safe_next(target: str) -> str:
    # Only paths on this site: an open redirect would turn the sign-in page into a phishing aid.
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


class Pages(Controller):
    path = ""
    include_in_schema = False

    @page("/", opt={"roles": EVERYONE}, sync_to_thread=True)
    def home(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Each role lands where its work is: approvers on their inbox, auditors on the audit page, a squad
        member on her own open filings and whatever waits on her (a delegated sign-off)."""
        person: Person = request.user
        if person.roles & APPROVERS or "admin" in person.roles:
            return Redirect("/inbox", status_code=303)
        if person.roles & AUDITORS:
            return Redirect("/audit", status_code=303)
        if not person.roles & FILERS:
            return Redirect("/decisions", status_code=303)
        runtime = runtime_of(request)
        service = runtime.service
        mine = [
            d
            for status in ("proceeded_pending_review", "pending")
            for d in service.list_decisions(DecisionFilter(filed_by=person.name, status=status), None, 200).items  # type: ignore[arg-type]
        ]
        recent = [
            d for d in service.list_decisions(DecisionFilter(filed_by=person.name), None, 20).items
            if d.status not in ("pending", "proceeded_pending_review")
        ][:5]  # fmt: skip
        waiting = service.inbox(person, None, 50).items  # oldest first: the longest wait on top
        return _page(
            request,
            "home.html.j2",
            mine=sorted(mine, key=lambda d: d.created_at),
            recent=recent,
            waiting=[{"item": i, "waited": _waited(i.waiting_seconds)} for i in waiting],
            message=request.query_params.get("message"),
        )

    # -- inbox ------------------------------------------------------------------------------------

    @page("/inbox", opt={"roles": DECIDERS}, sync_to_thread=True)
    def inbox(self, request: Request[Any, Any, Any]) -> Template:
        runtime = runtime_of(request)
        policy = runtime.policies.current
        sort: InboxSort = "oldest"
        errors = []
        asked = request.query_params.get("sort") or "oldest"
        if asked in INBOX_SORTS:
            sort = asked
        else:
            errors.append(f"unknown order {asked}; showing the oldest first")
        cursor = request.query_params.get("cursor") or None
        try:
            page = runtime.service.inbox(request.user, cursor, 50, sort)
        except InvalidInput:  # a cursor of another order (or none of ours): its first page
            page = runtime.service.inbox(request.user, None, 50, sort)
            cursor = None
        rows = [
            {
                "item": i,
                "waited": _waited(i.waiting_seconds),
                "category": category_words(policy, i.decision.category),
                "escalation": _escalation(policy, i),
                "excerpt": _excerpt(i.decision.rationale),
                "why": _why(i.decision),
            }
            for i in page.items
        ]
        here = "/inbox" if sort == "oldest" else f"/inbox?sort={sort}"
        return _page(
            request,
            "inbox.html.j2",
            rows=rows,
            next_cursor=page.next_cursor,
            first_page=cursor is None,
            sort=sort,
            orders=INBOX_ORDERS,
            here=here,
            errors=errors,
            message=request.query_params.get("message"),
        )

    # -- decisions --------------------------------------------------------------------------------

    @page("/decisions", opt={"roles": EVERYONE}, sync_to_thread=True)
    def decisions(self, request: Request[Any, Any, Any]) -> Template:
        runtime = runtime_of(request)
        filters, sort, errors, query = _list_filters(request)
        try:
            page = runtime.service.list_decisions(filters, request.query_params.get("cursor") or None, 50, sort)
        except InvalidInput as exc:
            errors.extend(e.message for e in exc.errors)
            if filters.q is not None and not search_terms(filters.q):
                filters = msgspec.structs.replace(filters, q=None)
            page = runtime.service.list_decisions(filters, None, 50, sort)
        policy = runtime.policies.current
        return _page(
            request,
            "decisions.html.j2",
            page=page,
            filters=filters,
            sort=sort,
            sorts=SORTS,
            statuses=STATUSES,
            errors=errors,
            squads=sorted({p.squad for p in policy.people.values() if p.squad}),
            query=query,
            dates={k: request.query_params.get(k, "") for k in ("from", "to")},
            cursor=request.query_params.get("cursor"),
        )

    @page("/decisions/export", opt={"roles": EVERYONE}, sync_to_thread=True)
    def decisions_export(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The list's current filters and order as CSV (what GET /v1/decisions/export gives over the API)."""
        filters, sort, errors, _ = _list_filters(request)
        if errors:
            return Redirect(f"/decisions?{urlencode(request.query_params.dict(), doseq=True)}", status_code=303)
        try:
            views = runtime_of(request).service.iter_decisions(filters, sort)
        except InvalidInput:
            return Redirect(f"/decisions?{urlencode(request.query_params.dict(), doseq=True)}", status_code=303)
        return Stream(
            decisions_csv(views),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="decisions.csv"'},
        )

    @page("/decisions/{decision_id:str}", opt={"roles": EVERYONE}, sync_to_thread=True)
    def decision(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Template:
        runtime = runtime_of(request)
        try:
            detail = runtime.service.get(decision_id)
        except NotFound as exc:
            raise NotFoundException(str(exc)) from exc
        person: Person = request.user
        # What to offer is the rules' answer (lifecycle.offered_steps), asked here once for the page.
        steps = runtime.service.offered_steps(person, decision_id)
        may_decide = bool(person.roles & DECIDERS) and "decide" in steps
        policy = runtime.policies.current
        tier = policy.tiers.get(detail.tier)
        review = policy.cadences.get(tier.review) if tier is not None and tier.review else None
        return _page(
            request,
            "decision.html.j2",
            d=detail,
            tier=tier,
            review=review.display if review is not None else None,
            may_decide=may_decide,
            steps=steps,
            related={i: _title_of(runtime, i) for i in (detail.supersedes, detail.superseded_by) if i},
            message=request.query_params.get("message"),
            error=request.query_params.get("error"),
        )

    @post("/decisions/{decision_id:str}/verdict", opt={"roles": DECIDERS}, status_code=303)
    async def verdict(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Response[Any]:
        form = await _form(request)
        verdict = form.get("verdict")
        if verdict not in ("approve", "reject"):
            return _back(decision_id, error="choose approve or reject")
        body, refused = _body(VerdictRequest, verdict=verdict, reason=form.get("reason", "").strip() or None)
        if body is None:
            return _back(decision_id, error=refused)
        done = "approved" if verdict == "approve" else "rejected"
        decide = functools.partial(runtime_of(request).service.decide, channel="web")
        return await _act(request, decision_id, decide, body, done, form.get("back"))

    @post("/decisions/{decision_id:str}/comment", opt={"roles": FILERS}, status_code=303)
    async def comment(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Response[Any]:
        form = await _form(request)
        text = form.get("text", "").strip()
        if not text:
            return _back(decision_id, error="write a comment first")
        body, refused = _body(CommentRequest, text=text)
        if body is None:
            return _back(decision_id, error=refused)
        return await _act(request, decision_id, runtime_of(request).service.comment, body, "comment added", None)

    @post("/decisions/{decision_id:str}/withdraw", opt={"roles": FILERS}, status_code=303)
    async def withdraw(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Response[Any]:
        form = await _form(request)
        body, refused = _body(WithdrawRequest, reason=form.get("reason", "").strip() or None)
        if body is None:
            return _back(decision_id, error=refused)
        return await _act(request, decision_id, runtime_of(request).service.withdraw, body, "withdrawn", None)

    @post("/decisions/{decision_id:str}/proceed", opt={"roles": FILERS}, status_code=303)
    async def proceed(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Response[Any]:
        form = await _form(request)
        reason = form.get("reason", "").strip()
        if not reason:
            return _back(decision_id, error="break-glass needs a reason: what harm does waiting cause?")
        body, refused = _body(ProceedRequest, reason=reason)
        if body is None:
            return _back(decision_id, error=refused)
        return await _act(request, decision_id, runtime_of(request).service.proceed, body,
                          "proceeding under break-glass; the approvers were notified", None)  # fmt: skip

    # -- filing -----------------------------------------------------------------------------------

    @page("/new", opt={"roles": FILERS}, sync_to_thread=True)
    def new_form(self, request: Request[Any, Any, Any]) -> Template:
        category = request.query_params.get("category") or ""
        supersedes = request.query_params.get("supersedes") or ""
        return _filing_page(request, {"category": category, "supersedes": supersedes}, {}, [], None)

    @post("/new/preview", opt={"roles": FILERS}, status_code=200)
    async def preview(self, request: Request[Any, Any, Any]) -> Template:
        return await _preview(request, await _form(request))

    @post("/new", opt={"roles": FILERS}, status_code=303)
    async def file(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await _form(request)
        if form.get("action") == "preview":  # the no-JavaScript path to the same preview
            return await _preview(request, form)
        filing, errors = _filing_from_form(runtime_of(request).policies.current, form)
        if filing is None or errors:
            return _filing_page(request, form, errors, [], None, status_code=400)
        try:
            result = await _call(runtime_of(request).service.file, request.user, filing)
        except InvalidInput as exc:
            by_field, general = field_errors_from_paths([(e.path, e.message) for e in exc.errors])
            return _filing_page(request, form, by_field, general, None, status_code=400)
        except (Forbidden, Conflict) as exc:
            return _filing_page(request, form, {}, [str(exc)], None, status_code=403)
        return Redirect(f"/decisions/{result.decision.id}?message=filed", status_code=303)

    # -- digests ----------------------------------------------------------------------------------

    @page("/digests/{kind:str}", opt={"roles": EVERYONE}, sync_to_thread=True)
    def digest_page(self, request: Request[Any, Any, Any], kind: FromPath[str]) -> Template:
        from datetime import date, timedelta

        from markupsafe import Markup

        from engine.review.render import digest_html

        if kind not in ("weekly", "biweekly"):
            raise NotFoundException("digests are weekly or biweekly")
        runtime = runtime_of(request)
        raw = request.query_params.get("date")
        error = None
        day = None
        if raw:
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                error = f"{raw!r} is not a date (YYYY-MM-DD); showing the current window"
        try:
            built = runtime.reviews.digest(kind, day)
        except InvalidInput as exc:
            error = f"{raw!r}: {exc.errors[0].message}; showing the current window"
            built = runtime.reviews.digest(kind, None)
        step = built.window_last_day - built.window_start + timedelta(days=1)
        return _page(
            request,
            "digest.html.j2",
            kind=kind,
            # Safe: rendered by our own autoescaping template.
            body=Markup(digest_html(built, standalone=False, policy=runtime.reviews.policy_of(built))),
            previous=(built.window_start - step).isoformat(),
            next=(built.window_start + step).isoformat(),
            closed=built.closed,
            error=error,
        )

    # -- audit ------------------------------------------------------------------------------------

    @page("/audit", opt={"roles": AUDITORS}, sync_to_thread=True)
    def audit(self, request: Request[Any, Any, Any]) -> Template:
        from api.controllers.log import verification_now

        runtime = runtime_of(request)
        engine = runtime.service.engine
        latest_checkpoint = runtime.checkpoints.latest()
        # The stored results and the tail since them, never a full verification in this process; the first
        # view of a database waits a little for the worker's first full verification.
        verify = verification_now(runtime, wait=FIRST_VERIFICATION_WAIT)
        return _page(
            request,
            "audit.html.j2",
            verify=verify,
            checkpoint=latest_checkpoint,
            fingerprints=runtime.checkpoints.fingerprints,
            public_keys=runtime.checkpoints.verifier_keys,
            blocked=runtime.service.append_blocked,
            lag=checkpoint_lag(runtime.checkpoints, runtime.service.clock(), checkpoint_every_from_env()),
            legitimacy=latest_stored(engine, ["audit"]),
            log_size=log_size(engine),
        )

    @post("/audit/verify", opt={"roles": AUDITORS}, status_code=303, sync_to_thread=True)
    def audit_verify(self, request: Request[Any, Any, Any]) -> Redirect:
        """Start a full verification in the worker (seconds per hundred thousand events: never in this process)."""
        runtime = runtime_of(request)
        start_job(runtime.service.engine, runtime.database_url, "full")
        return Redirect("/audit", status_code=303)

    @post("/audit/replay", opt={"roles": AUDITORS}, status_code=303, sync_to_thread=True)
    def audit_replay(self, request: Request[Any, Any, Any]) -> Redirect:
        """Start a replay of the log through the rules in the worker; the page shows the result when stored."""
        runtime = runtime_of(request)
        start_job(runtime.service.engine, runtime.database_url, "audit")
        return Redirect("/audit", status_code=303)

    @page("/audit/bundle", opt={"roles": AUDITORS}, sync_to_thread=True)
    def audit_bundle(self, request: Request[Any, Any, Any]) -> Stream:
        from api.controllers.log import bundle_response

        return bundle_response(runtime_of(request), ExportFilter())  # the zip of GET /v1/log/bundle, whole log

    @page("/audit/export/{fmt:str}", opt={"roles": frozenset({"auditor"})}, sync_to_thread=True)
    def audit_export(self, request: Request[Any, Any, Any], fmt: FromPath[str]) -> Stream:
        if fmt not in ("jsonl", "csv"):
            raise NotFoundException("export as .jsonl or .csv")
        sign_before_export(runtime_of(request).checkpoints)
        return Stream(
            export_lines(runtime_of(request).service.engine, fmt, ExportFilter()),  # type: ignore[arg-type]
            media_type=EXPORT_MEDIA[fmt],
            headers={"Content-Disposition": f'attachment; filename="decision-log.{fmt}"'},
        )


#: The inbox's orders (GET /v1/inbox?sort=...), in words.
INBOX_ORDERS: dict[str, str] = {
    "oldest": "Oldest first",
    "newest": "Newest first",
    "tier": "Highest tier first",
    "due": "Due soonest first",
}

SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "tier": "Highest tier first",
    "title": "Title A to Z",
}


def _list_filters(request: Request[Any, Any, Any]) -> tuple[DecisionFilter, DecisionSort, list[str], dict[str, str]]:
    """The decisions list's filters from its query string; what was refused, in words; the query to keep."""
    q = request.query_params
    tz = runtime_of(request).policies.current.timezone
    errors: list[str] = []
    # A refused value (`?tier=null` included: the API's 400) is named on the page with what is shown instead.
    tier = q.get("tier") or None
    if tier is not None and tier not in {"1", "2", "3"}:
        errors.append(f"tier must be 1, 2 or 3, not {tier!r}; showing every tier")
        tier = None
    status = q.get("status") or None
    if status is not None and status not in STATUSES:
        errors.append(f"unknown status {status!r}; showing every status")
        status = None
    sort = q.get("sort") or "newest"
    if sort not in SORTS:
        errors.append(f"unknown order {sort!r}; showing the newest first")
        sort = "newest"
    bounds: dict[str, datetime | None] = {}
    for name, label, shift in (("from", "Filed from", 0), ("to", "Filed to", 1)):
        raw = q.get(name) or ""
        bounds[name] = None
        if raw:
            try:
                day = date.fromisoformat(raw) + timedelta(days=shift)  # "to" includes its whole day
                bounds[name] = datetime.combine(day, time(), tz).astimezone(UTC)
            except ValueError:
                errors.append(f"{label}: {raw!r} is not a date (YYYY-MM-DD)")
    text = (q.get("q") or "").strip()
    if len(text) > MAX_QUERY:
        errors.append(f"search for at most {MAX_QUERY} characters")
        text = ""
    filters = DecisionFilter(
        status=status,  # type: ignore[arg-type]
        tier=int(tier) if tier else None,
        category=q.get("category") or None,
        squad=q.get("squad") or None,
        filed_by=q.get("filed_by") or None,
        since=bounds["from"],
        until=bounds["to"],
        q=text or None,
    )
    query = {k: v for k, v in q.items() if k != "cursor" and v}
    return filters, sort, errors, query  # type: ignore[return-value]


def _body(kind: type[B], **values: Any) -> tuple[B | None, str]:
    """A request body from form values, checked as the API checks it; (None, why) when refused."""
    try:
        return msgspec.convert(values, kind), ""
    except msgspec.ValidationError as exc:
        return None, str(exc).replace("field `", "`")


def _back(
    decision_id: str, *, message: str | None = None, error: str | None = None, back: str | None = None
) -> Redirect:
    target = _inbox_back(back) or f"/decisions/{decision_id}"
    query = urlencode({k: v for k, v in (("message", message), ("error", error)) if v})
    joiner = "&" if "?" in target else "?"
    return Redirect(f"{target}{joiner}{query}" if query else target, status_code=303)


def _inbox_back(back: str | None) -> str | None:
    """Where a verdict given on the inbox returns to: the inbox in the order it was read in; nowhere else
    (a form field names it, so only these exact addresses are followed)."""
    if back == "/inbox":
        return back
    for sort in INBOX_ORDERS:
        if back == f"/inbox?sort={sort}":
            return back
    return None


async def _act(
    request: Request[Any, Any, Any], decision_id: str, fn: Callable[..., Any], body: Any, done: str, back: str | None
) -> Redirect:
    try:
        view = await _call(fn, request.user, decision_id, body)
    except InvalidInput as exc:
        return _back(decision_id, error="; ".join(e.message for e in exc.errors))
    except NotFound as exc:
        raise NotFoundException(str(exc)) from exc
    except DomainError as exc:
        # Refused on the merits (not on the route, already decided, own decision): say so on the page.
        return _back(decision_id, error=str(exc))
    # Confirmed by title (what the person read and acted on); the id stays in the address.
    return _back(decision_id, message=f"“{one_line(view.title)}”: {done}", back=back)


async def _preview(request: Request[Any, Any, Any], form: dict[str, str]) -> Template:
    """The classify dry-run: the tier, route and reasons the policy would give, nothing stored."""
    filing, errors = _filing_from_form(runtime_of(request).policies.current, form, need_title=False)
    preview: Any = None
    general: list[str] = []
    if filing is not None and not errors:
        try:
            preview = await _call(runtime_of(request).service.classify, request.user, filing)
        except InvalidInput as exc:
            errors, general = field_errors_from_paths([(e.path, e.message) for e in exc.errors])
    template = "_preview.html.j2" if request.headers.get("hx-request") else "new.html.j2"
    return _filing_page(request, form, errors, general, preview, template)


def _filing_from_form(
    policy: Policy, form: dict[str, str], need_title: bool = True
) -> tuple[FilingRequest | None, dict[str, str]]:
    category_name = form.get("category", "").strip()
    category = policy.categories.get(category_name)
    attributes, errors = parse_attributes(category, form)
    if not category_name:
        errors["category"] = "choose a category"
    title = form.get("title", "").strip()
    if not title and need_title:
        errors["title"] = "give the decision a title"
    raw = {
        "title": title or "untitled",
        "category": category_name or "unknown",
        "attributes": attributes,
        "rationale": form.get("rationale", "").strip() or None,
        "supersedes": form.get("supersedes", "").strip() or None,
    }
    try:
        return msgspec.convert(raw, FilingRequest), errors
    except msgspec.ValidationError as exc:
        named = re.match(r"field `([a-z_]+)", str(exc))
        where = named.group(1) if named and named.group(1) in ("title", "category", "rationale") else "title"
        errors[where] = str(exc).replace("field `", "`")
        return None, errors


def _filing_page(
    request: Request[Any, Any, Any],
    form: dict[str, str],
    errors: dict[str, str],
    general: list[str],
    preview: Any,
    template: str = "new.html.j2",
    status_code: int = 200,
) -> Template:
    policy = runtime_of(request).policies.current
    category = policy.categories.get(form.get("category", ""))
    fields = []
    if category is not None:
        for name, field in category.fields.items():
            input_name = field_input_name(name)
            fields.append(
                {
                    "def": field,
                    "input": input_name,
                    "value": form.get(input_name, "" if field.default is None else str(field.default)),
                    "error": errors.get(input_name),
                }
            )
    return _page(
        request,
        template,
        status_code=status_code,
        form=form,
        category=category,
        fields=fields,
        errors=errors,
        general=general,
        preview=preview,
        now=datetime.now(UTC),
        supersedes_title=_title_of(runtime_of(request), form["supersedes"]) if form.get("supersedes") else "",
    )
