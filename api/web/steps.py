"""Web pages for the lifecycle steps beyond filing and deciding: amend (with the re-classification and
the approvals it would dismiss previewed by the rules themselves) and delegations (grant, list, revoke)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio.to_thread
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.auth import FILERS, runtime_of
from api.web.days import day_range
from api.web.forms import field_errors_from_paths, field_input_name, parse_attributes
from api.web.names import person_element
from api.web.pages import _form
from engine.errors import DomainError, InvalidInput, NotFound
from engine.lifecycle import delegable_roles
from engine.types import AmendRequest, DelegationRequest, DelegationView
from engine.words import person_words
from policy.compiled import Policy


def _context(request: Request[Any, Any, Any], **values: Any) -> dict[str, Any]:
    policy = runtime_of(request).policies.current
    return {"user": request.scope.get("user"), "policy": policy, "path": request.url.path,
            "person": functools.partial(person_element, policy), **values}  # fmt: skip


class Steps(Controller):
    # -- amend --------------------------------------------------------------------------------------

    def _amend_page(
        self, request: Request[Any, Any, Any], decision_id: str, form: dict[str, str] | None, errors: dict[str, str],
        general: list[str], status_code: int = 200,
    ) -> Template:  # fmt: skip
        runtime = runtime_of(request)
        try:
            detail = runtime.service.get(decision_id)
        except NotFound as exc:
            raise NotFoundException(str(exc)) from exc
        policy = runtime.policies.current
        category = policy.categories.get(detail.category)
        values = form or {
            "title": detail.title,
            "rationale": detail.rationale or "",
            **{field_input_name(k): str(v) for k, v in detail.attributes.items()},
        }
        fields = [
            {"def": f, "input": field_input_name(n), "value": values.get(field_input_name(n), ""),
             "error": errors.get(field_input_name(n))}
            for n, f in (category.fields.items() if category is not None else [])
        ]  # fmt: skip
        # The preview as the page opens (the rules on the stored content), then live as the form changes.
        preview = self._preview(request, decision_id, values, detail.category) if not errors else None
        return Template(
            template_name="amend.html.j2",
            context=_context(request, d=detail, form=values, fields=fields, errors=errors, general=general,
                             preview=preview),
            status_code=status_code,
        )  # fmt: skip

    def _request(self, request: Request[Any, Any, Any], detail_category: str, form: dict[str, str]) -> tuple[
        AmendRequest | None, dict[str, str]]:  # fmt: skip
        policy = runtime_of(request).policies.current
        attributes, errors = parse_attributes(policy.categories.get(detail_category), form)
        try:
            values = {
                "title": form.get("title", "").strip() or None,
                "attributes": attributes,
                "rationale": form.get("rationale", "").strip() or None,
                "reason": form.get("reason", "").strip() or None,
            }
            body = msgspec.convert(values, AmendRequest)
        except msgspec.ValidationError as exc:
            errors["title"] = str(exc).replace("field `", "`")
            return None, errors
        return body, errors

    def _preview(
        self, request: Request[Any, Any, Any], decision_id: str, form: dict[str, str], category: str | None = None
    ) -> dict[str, Any]:
        """What the rules would do with this amendment (`preview_amend`: the same rules the service runs on
        the decision as stored; nothing is written), or why they would refuse it."""
        runtime = runtime_of(request)
        if category is None:
            try:
                category = runtime.service.get(decision_id).category
            except NotFound as exc:
                raise NotFoundException(str(exc)) from exc
        body, errors = self._request(request, category, form)
        if body is None or errors:
            return {"error": "; ".join(errors.values())}
        try:
            preview = runtime.service.preview_amend(request.user, decision_id, body)
        except InvalidInput as exc:
            return {"error": "; ".join(e.message for e in exc.errors)}
        except DomainError as exc:
            return {"error": str(exc)}
        policy = runtime.policies.current
        tier = policy.tiers.get(preview.tier)
        return {
            "tier": preview.tier,
            "tier_name": tier.name if tier is not None else "",
            "was_tier": preview.was_tier,
            "status": preview.status.replace("_", " "),
            "reasons": preview.reasons,
            "dismissed": [person_element(policy, p) for p in preview.dismissed],
            "carried": [person_element(policy, p) for p in preview.carried],
        }

    @post("/decisions/{decision_id:str}/amend/preview", opt={"roles": FILERS}, status_code=200)
    async def amend_preview(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Template:
        """The preview alone, for the form's live update (htmx posts the form here as you type)."""
        form = await _form(request)
        preview = await anyio.to_thread.run_sync(self._preview, request, decision_id, form)
        return Template(template_name="_amend_preview.html.j2", context=_context(request, preview=preview))

    @get("/decisions/{decision_id:str}/amend", opt={"roles": FILERS}, sync_to_thread=True)
    def amend_form(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Template:
        return self._amend_page(request, decision_id, None, {}, [])

    @post("/decisions/{decision_id:str}/amend", opt={"roles": FILERS}, status_code=303)
    async def amend(self, request: Request[Any, Any, Any], decision_id: FromPath[str]) -> Response[Any]:
        # Annotated as a Response: with `Any`, Litestar sent the re-rendered page as application/json.
        form = await _form(request)
        return await anyio.to_thread.run_sync(self._amend, request, decision_id, form)

    def _amend(self, request: Request[Any, Any, Any], decision_id: str, form: dict[str, str]) -> Response[Any]:
        runtime = runtime_of(request)
        try:
            category = runtime.service.get(decision_id).category
        except NotFound as exc:
            raise NotFoundException(str(exc)) from exc
        body, errors = self._request(request, category, form)
        if body is None or errors or form.get("action") == "preview":
            return self._amend_page(request, decision_id, form, errors, [], status_code=400 if errors else 200)
        try:
            runtime.service.amend(request.user, decision_id, body)
        except InvalidInput as exc:
            by_field, general = field_errors_from_paths([(e.path, e.message) for e in exc.errors])
            return self._amend_page(request, decision_id, form, by_field, general, status_code=400)
        except DomainError as exc:
            return self._amend_page(request, decision_id, form, {}, [str(exc)], status_code=403)
        return Redirect(f"/decisions/{decision_id}?message=amended", status_code=303)

    # -- delegations --------------------------------------------------------------------------------

    @get("/delegations", opt={"roles": FILERS}, sync_to_thread=True)
    def delegations(self, request: Request[Any, Any, Any]) -> Template:
        runtime = runtime_of(request)
        policy = runtime.policies.current
        mine = runtime.service.delegations(request.user)

        def row(d: DelegationView) -> dict[str, Any]:
            days = day_range(d.starts_at, d.ends_at, policy.timezone)
            # The delegate in words for the revoke button's label (an attribute: no markup); the page shows
            # both people with `person`, the id on hover.
            return {"d": d, "days": days, "delegate": _person_words(policy, d.delegate)}

        return Template(
            template_name="delegations.html.j2",
            context=_context(
                request,
                granted=[row(d) for d in mine if d.delegator == request.user.name],
                received=[row(d) for d in mine if d.delegate == request.user.name],
                people=sorted(p for p in policy.people if p != request.user.name),
                roles=delegable_roles(policy, request.user.roles),
                message=request.query_params.get("message"),
                error=request.query_params.get("error"),
            ),
        )

    @post("/delegations", opt={"roles": FILERS}, status_code=303)
    async def grant(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await _form(request)
        return await anyio.to_thread.run_sync(self._grant, request, form)

    def _grant(self, request: Request[Any, Any, Any], form: dict[str, str]) -> Redirect:
        tz: ZoneInfo = runtime_of(request).policies.current.timezone
        try:
            starts = datetime.combine(datetime.strptime(form.get("from", ""), "%Y-%m-%d").date(), time(), tz)
            # The last day is included: the delegation ends at the next local midnight.
            until = datetime.strptime(form.get("until", ""), "%Y-%m-%d").date()
            ends = datetime.combine(until + timedelta(days=1), time(), tz)
        except ValueError:
            return Redirect("/delegations?error=give+both+dates+as+YYYY-MM-DD", status_code=303)
        try:
            body = msgspec.convert(
                {"delegate": form.get("delegate", ""), "role": form.get("role", ""),
                 "starts_at": starts.astimezone(UTC), "ends_at": ends.astimezone(UTC)},
                DelegationRequest,
            )  # fmt: skip
            runtime_of(request).service.delegate(request.user, body)
        except msgspec.ValidationError as exc:
            return Redirect(f"/delegations?{_query(error=str(exc))}", status_code=303)
        except DomainError as exc:
            return Redirect(f"/delegations?{_query(error=str(exc))}", status_code=303)
        policy = runtime_of(request).policies.current
        days = day_range(body.starts_at, body.ends_at, policy.timezone)
        done = f"{_person_words(policy, body.delegate)} may sign off as {body.role} for you, {days}"
        return Redirect(f"/delegations?{_query(message=done)}", status_code=303)

    @post("/delegations/{delegation_id:str}/revoke", opt={"roles": FILERS}, status_code=303, sync_to_thread=True)
    def revoke(self, request: Request[Any, Any, Any], delegation_id: FromPath[str]) -> Redirect:
        service = runtime_of(request).service
        try:
            service.revoke_delegation(request.user, delegation_id)
        except DomainError as exc:
            return Redirect(f"/delegations?{_query(error=str(exc))}", status_code=303)
        policy = runtime_of(request).policies.current
        done = "revoked"
        for d in service.delegations(request.user):
            if d.id == delegation_id:  # named as the button named it
                to = _person_words(policy, d.delegate)
                done = f"Revoked: {d.role} delegation to {to}, {day_range(d.starts_at, d.ends_at, policy.timezone)}"
        return Redirect(f"/delegations?{_query(message=done)}", status_code=303)


def _person_words(policy: Policy, name: str) -> str:
    """A person as the directory names them (`Tomas`), else their id."""
    return person_words(policy, name)


def _query(**values: str) -> str:
    from urllib.parse import urlencode

    return urlencode(values)
