"""`decisions show`, `decisions list`, `decisions approve` and `decisions reject`: reading and deciding from a
terminal, with the same filters and the same rules as the API (the service decides; nothing is checked here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import click

from api.cli.common import Context, echo_json, pass_context, person_named
from api.cli.root import main
from engine.decision_export import decisions_csv
from engine.types import DECISION_SORTS, DecisionFilter, DecisionSort, DecisionView, Status, Verdict, VerdictRequest

_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def _summary(d: DecisionView) -> list[str]:
    route = ", ".join(d.route.approvers) if d.route.approvers else "the squad (resolved at filing)"
    lines = [
        f"{d.id}  {d.title}",
        f"  {d.category}, tier {d.tier}, {d.status}; filed by {d.filed_by} at {_when(d.created_at)}",
        f"  why: {d.explanation.summary}",
        f"  route: {route}" + (f" ({d.route.count} needed)" if d.route.approvers else ""),
    ]
    lines += [f"  {a.verdict} by {a.approver} ({a.role})" + (f": {a.reason}" if a.reason else "") for a in d.approvals]
    return lines


@main.command("show")
@click.argument("decision_id")
@_FORMAT
@pass_context
def show(obj: Context, decision_id: str, fmt: str) -> None:
    """A decision: its tier and why, its route, approvals and events."""
    with obj.runtime() as rt:
        detail = rt.service.get(decision_id)
    if fmt == "json":
        echo_json(detail)
        return
    for line in _summary(detail):
        click.echo(line)
    click.echo("  events:")
    for e in detail.events:
        click.echo(f"    #{e.seq}  {_when(e.at)}  {e.type} by {e.actor}")


@main.command("list")
@click.option("--status", type=click.Choice(get_args(Status)), default=None)
@click.option("--tier", type=click.IntRange(1, 3), default=None)
@click.option("--category", default=None)
@click.option("--squad", default=None)
@click.option("--filed-by", default=None)
@click.option("--since", type=click.DateTime(), default=None, help="Filed at or after (UTC)")
@click.option("--until", type=click.DateTime(), default=None, help="Filed before (UTC)")
@click.option("--search", "q", default=None, help="Words in the title, rationale or comments (all of them)")
@click.option("--sort", type=click.Choice(DECISION_SORTS), default="newest", show_default=True)
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None, help="The next_cursor of the previous page")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="csv: every match, one row per decision (GET /v1/decisions/export), no paging",
)
@pass_context
def list_decisions(obj: Context, fmt: str, cursor: str | None, limit: int, sort: DecisionSort, **filters: Any) -> None:
    """Decisions, newest first, with the filters, search and sorts of GET /v1/decisions."""
    flt = DecisionFilter(**{**filters, "since": _utc(filters["since"]), "until": _utc(filters["until"])})
    with obj.runtime() as rt:
        if fmt == "csv":
            for chunk in decisions_csv(rt.service.iter_decisions(flt, sort)):
                click.echo(chunk, nl=False)  # bytes: written as they are
            return
        page = rt.service.list_decisions(flt, cursor, limit, sort)
    if fmt == "json":
        echo_json(page)
        return
    if not page.items:
        click.echo("no decisions match", err=True)
    for d in page.items:
        click.echo(f"{d.id}  tier {d.tier}  {d.status:<24} {d.category:<20} {d.filed_by:<10} {_when(d.created_at)}  "
                   f"{d.title}")  # fmt: skip
    if page.next_cursor:
        sorted_by = f" --sort {sort}" if sort != "newest" else ""
        click.echo(f"more: decisions list{sorted_by} --cursor {page.next_cursor}", err=True)


def _verdict(obj: Context, decision_id: str, actor: str, verdict: Verdict, reason: str | None) -> None:
    with obj.runtime() as rt:
        view = rt.service.decide(person_named(rt, actor), decision_id, VerdictRequest(verdict=verdict, reason=reason))
    click.echo(f"{view.id}: {verdict} by {actor}; now {view.status}")


@main.command("approve")
@click.argument("decision_id")
@click.option("--as", "actor", required=True, help="The approver (a person of the directory)")
@click.option("--reason", default=None)
@pass_context
def approve(obj: Context, decision_id: str, actor: str, reason: str | None) -> None:
    """Approve a decision as a person on its route (refused, with the reason, when they may not)."""
    _verdict(obj, decision_id, actor, "approve", reason)


@main.command("reject")
@click.argument("decision_id")
@click.option("--as", "actor", required=True, help="The approver (a person of the directory)")
@click.option("--reason", required=True, help="Why: the filer reads it")
@pass_context
def reject(obj: Context, decision_id: str, actor: str, reason: str) -> None:
    """Reject a decision as a person on its route, saying why."""
    _verdict(obj, decision_id, actor, "reject", reason)
