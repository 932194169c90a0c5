"""`decisions policy`: check, diff, simulate, propose and activate policy versions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click
import msgspec

from api.cli.common import Context, echo_json, pass_context, person_named, progress_counter
from api.cli.root import main
from engine.types import FilingRequest
from policy import PolicyLoadError, load_policy, read_policy_text


@main.group()
def policy() -> None:
    """The policy file."""


@policy.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_context
def policy_check(obj: Context, file: str | None, fmt: str) -> None:
    """Load FILE (default: the configured policy), run its examples and analyse it; exit 1 on errors."""
    from policy.analysis import analyse

    path = file or obj.policy_path
    try:
        loaded = load_policy(path)
    except PolicyLoadError as exc:
        if fmt == "json":
            echo_json({"ok": False, "errors": [dataclasses.asdict(i) for i in exc.issues]})
        else:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
        raise SystemExit(1) from exc
    findings = analyse(loaded, read_policy_text(path))
    errors = [f for f in findings if f.severity == "error"]
    if fmt == "json":
        echo_json({"ok": not errors, "version": loaded.version, "findings": findings})
    else:
        for finding in findings:
            click.echo(str(finding), err=finding.severity == "error")
        examples = sum(len(c.examples) for c in loaded.categories.values())
        verdict = "errors" if errors else "ok"
        click.echo(
            f"{path}: {verdict}, version {loaded.version[:12]}, {len(loaded.categories)} categories, "
            f"{examples} examples, {len(findings)} findings"
        )
    if errors:
        raise SystemExit(1)


@policy.command("schema")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def policy_schema(output: Path | None) -> None:
    """Write the JSON Schema of policies.yaml (for editors)."""
    from policy.schema import policy_json_schema

    text = json.dumps(policy_json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"schema written to {output}", err=True)


@policy.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def policy_diff(old: Path, new: Path, fmt: str) -> None:
    """Semantic diff: parameters, people and roles, tiers, cadences, categories, fields, rules."""
    from policy.diff import diff_policies

    try:
        a, b = load_policy(old), load_policy(new)
    except PolicyLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    changes = diff_policies(a, read_policy_text(old), b, read_policy_text(new))
    if fmt == "json":
        echo_json({"old": a.version, "new": b.version, "changes": changes})
        return
    if not changes:
        click.echo("no semantic change")
    for area in dict.fromkeys(c.area for c in changes):
        click.echo(f"{area}:")
        for change in changes:
            if change.area == area:
                click.echo(f"  {change}")


@policy.command("simulate")
@click.option("--candidate", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="first day (policy timezone)")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="day after the last")
@click.option(
    "--history",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV or JSONL of decisions made before the service existed (default: the log)",
)
@click.option("--period", type=click.Choice(["week", "month"]), default="week", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_context
def policy_simulate(
    obj: Context,
    candidate: Path,
    since: Any,
    until: Any,
    history: Path | None,
    period: str,
    fmt: str,
    output: Path | None,
) -> None:
    """Replay past decisions under a candidate policy: what would move, and whose load changes."""
    from engine.history import HistoryError, from_event_rows, from_file
    from engine.simulate import render_markdown, simulate

    try:
        proposed = load_policy(candidate)
    except PolicyLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    progress = progress_counter("replayed")
    with obj.runtime() as rt:
        source = from_file(history, progress) if history is not None else from_event_rows(rt.service.iter_event_rows())
        try:
            report = simulate(
                source,
                proposed,
                rt.policies.current,
                since=since.date() if since else None,
                until=until.date() if until else None,
                period="month" if period == "month" else "week",
            )
        except HistoryError as exc:
            raise click.ClickException(str(exc)) from exc
    text = (
        msgspec.json.format(msgspec.json.encode(report)).decode() + "\n" if fmt == "json" else render_markdown(report)
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"\nwritten to {output}", err=True)


@policy.command("propose")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--file-as",
    "filer",
    default=None,
    help="Also file the `policy` decision as this person, its summary the candidate's simulated impact",
)
@pass_context
def policy_propose(obj: Context, file: Path, filer: str | None) -> None:
    """Store FILE as a candidate; prints the version to name in a `policy` decision."""
    with obj.runtime() as rt:
        try:
            candidate = rt.governance.propose(read_policy_text(file), str(file))
        except PolicyLoadError as exc:
            raise click.ClickException(str(exc)) from exc
        if filer is not None:
            from engine.history import from_event_rows
            from engine.simulate import simulate

            report = simulate(from_event_rows(rt.service.iter_event_rows()), candidate.policy, rt.policies.current)
            before = sum(p.director_before for p in report.periods)
            after = sum(p.director_after for p in report.periods)
            summary = (
                f"Simulated on {report.total} past decisions: {report.moved_count} change tier "
                f"({report.raised} up, {report.lowered} down); director escalations {before} -> {after}."
            )
            request = FilingRequest(
                title=f"Activate policy {candidate.version[:12]}",
                category="policy",
                attributes={"candidate_version": candidate.version, "summary": summary},
            )
            result = rt.service.file(person_named(rt, filer), request)
            d = result.decision
            click.echo(f"{d.id}: tier {d.tier}, {d.status}; {summary}", err=True)
    click.echo(candidate.version)


@policy.command("activate")
@click.option("--as", "actor", required=True, help="The admin performing the activation")
@pass_context
def policy_activate(obj: Context, actor: str) -> None:
    """Activate the configured policy file, if an approved decision names its hash."""
    with obj.runtime() as rt:
        try:
            active = rt.governance.activate_file(person_named(rt, actor))
        except PolicyLoadError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"active policy version {active.version}")
