"""Filing and classifying from the command line, and delegations."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import msgspec

from api.cli.common import Context, echo_json, parse_pairs, pass_context, person_named
from api.cli.root import main
from engine.types import DelegationRequest, FilingRequest


@main.command()
@click.argument("category")
@click.argument("attributes", nargs=-1)
@click.option("--as", "actor", default="system", help="Whose view (only matters for routing)")
@pass_context
def classify(obj: Context, category: str, attributes: tuple[str, ...], actor: str) -> None:
    """Dry run: the tier, route and explanation for CATEGORY key=value..."""
    from engine.errors import InvalidInput
    from policy.compiled import Person

    with obj.runtime() as rt:
        person = rt.policies.current.people.get(actor) or Person(actor, frozenset())
        try:
            view = rt.service.classify(
                person, FilingRequest(title="(dry run)", category=category, attributes=parse_pairs(attributes))
            )
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(view.explanation.summary)
    echo_json(view)


@main.command("file")
@click.argument("category")
@click.argument("attributes", nargs=-1)
@click.option("--as", "actor", required=True, help="The filer (a person of the directory)")
@click.option("--title", required=True)
@click.option("--rationale", default=None)
@pass_context
def file_decision(
    obj: Context, category: str, attributes: tuple[str, ...], actor: str, title: str, rationale: str | None
) -> None:
    """File a decision as a person of the directory."""
    with obj.runtime() as rt:
        try:
            request = msgspec.convert(
                {"title": title, "category": category, "attributes": parse_pairs(attributes), "rationale": rationale},
                FilingRequest,
            )
        except msgspec.ValidationError as exc:
            raise click.ClickException(str(exc)) from exc
        result = rt.service.file(person_named(rt, actor), request)
    click.echo(f"{result.decision.id}: tier {result.decision.tier}, {result.decision.status}")
    echo_json(result.decision)


@main.group(invoke_without_command=True)
@click.option("--as", "actor", default=None, help="The delegator: a person holding the role in their own right")
@click.option("--to", "delegate", default=None, help="The delegate (a person of the directory)")
@click.option("--role", default=None, help="The approver role delegated, e.g. tech_pm")
@click.option("--from", "starts", type=click.DateTime(), default=None, help="Start (UTC); default now")
@click.option("--until", "ends", type=click.DateTime(), default=None, help="End (UTC), exclusive")
@click.pass_context
def delegate(
    ctx: click.Context,
    actor: str | None,
    delegate: str | None,
    role: str | None,
    starts: datetime | None,
    ends: datetime | None,
) -> None:
    """Delegate an approver role for a date range: `decisions delegate --as tomas --to ravi --role tech_pm
    --until 2026-12-24`. `decisions delegate list --as NAME` and `decisions delegate revoke ID --as NAME`."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        flag
        for flag, value in (("--as", actor), ("--to", delegate), ("--role", role), ("--until", ends))
        if value is None
    ]
    if missing or actor is None or ends is None:
        raise click.UsageError(f"missing {', '.join(missing)}")
    obj = ctx.find_object(Context)
    assert obj is not None
    start = starts.replace(tzinfo=UTC) if starts else datetime.now(UTC)
    try:
        request = msgspec.convert(
            {"delegate": delegate, "role": role, "starts_at": start, "ends_at": ends.replace(tzinfo=UTC)},
            DelegationRequest,
        )
    except msgspec.ValidationError as exc:
        raise click.ClickException(str(exc)) from exc
    with obj.runtime() as rt:
        view = rt.service.delegate(person_named(rt, actor), request)
    click.echo(f"{view.id}: {view.delegator} -> {view.delegate} as {view.role} until {view.ends_at.isoformat()}")


@delegate.command("list")
@click.option("--as", "actor", required=True)
@pass_context
def delegate_list(obj: Context, actor: str) -> None:
    """Delegations a person gave or received."""
    with obj.runtime() as rt:
        views = rt.service.delegations(person_named(rt, actor))
    for v in views:
        state = "revoked" if v.revoked else f"{v.starts_at.isoformat()} .. {v.ends_at.isoformat()}"
        click.echo(f"{v.id}  {v.delegator} -> {v.delegate}  {v.role}  {state}")


@delegate.command("revoke")
@click.argument("delegation_id")
@click.option("--as", "actor", required=True)
@pass_context
def delegate_revoke(obj: Context, delegation_id: str, actor: str) -> None:
    """Revoke a delegation you gave."""
    with obj.runtime() as rt:
        rt.service.revoke_delegation(person_named(rt, actor), delegation_id)
    click.echo(f"{delegation_id} revoked")
