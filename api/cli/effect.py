"""`decisions baseline import`, `decisions metrics effect` and `decisions demo`: the measured effect."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from api.cli.common import Context, pass_context, person_named
from api.cli.reports import metrics
from api.cli.root import main


@main.group()
def baseline() -> None:
    """The pre-adoption record of escalations the effect is measured against."""


@baseline.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", default="adm", show_default=True, help="The admin importing it")
@pass_context
def baseline_import(obj: Context, file: Path, actor: str) -> None:
    """Load FILE (CSV or JSONL: date, kind, decided_by, optionally waited_days); every bad row is
    reported by line and nothing is imported until all are good. The newest import is the baseline."""
    from engine.effect import baseline as reader
    from engine.effect.service import Effect

    with obj.runtime() as rt:
        try:
            items = reader.read(file, rt.policies.current)
        except reader.BaselineInvalid as exc:
            raise click.ClickException(f"nothing imported:\n{exc}") from exc
        seq = Effect(rt.service, rt.policies, rt.service.clock).import_baseline(
            person_named(rt, actor), items, file.name
        )
    first, last = min(i.day for i in items), max(i.day for i in items)
    click.echo(f"imported {len(items)} baseline rows ({first} to {last}); logged as event {seq}")


@metrics.command("effect")
@click.option("--period", type=click.Choice(["week", "month", "quarter"]), default="quarter", show_default=True)
@click.option("--periods", type=click.IntRange(1, 104), default=4, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["json", "md", "html"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_context
def metrics_effect(obj: Context, period: str, periods: int, fmt: str, output: Path | None) -> None:
    """The director's load against the baseline and the previous period, time to decision, overdue items,
    and the director's hours recaptured, per period."""
    from engine.effect.render import render_effect
    from engine.effect.service import Effect

    with obj.runtime() as rt:
        report = Effect(rt.service, rt.policies, rt.service.clock).report(period, periods)
    body = render_effect(report, fmt)
    if output is None:
        click.echo(body.decode(), nl=False)
    else:
        output.write_bytes(body)


@main.command()
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--today", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day of the history (default today)"
)
@pass_context
def demo(obj: Context, seed: int, today: datetime | None) -> None:
    """Fill a NEW database with two quarters of a demo organisation's decisions (through the service, so
    the log verifies and the audit accepts it) and a pre-adoption baseline."""
    from engine.effect.demo import DemoClock, history_span, run_demo
    from engine.runtime import open_runtime, upgrade_database
    from engine.store.db import read_transaction
    from policy import load_policy

    upgrade_database(obj.database_url)
    last = today.date() if today is not None else date.today()
    policy = load_policy(obj.policy_path)
    start, _ = history_span(last, policy)
    clock = DemoClock(datetime.combine(start, datetime.min.time(), policy.timezone))
    rt = open_runtime(obj.database_url, obj.policy_path, clock=clock)
    try:
        from sqlalchemy import func, select

        from engine.store.tables import Decision

        with read_transaction(rt.service.engine) as conn:
            existing = conn.execute(select(func.count()).select_from(Decision.__table__)).scalar_one()  # type: ignore[attr-defined]
        if existing:
            raise click.ClickException(
                f"{obj.database_url} already holds {existing} decisions; the demo needs a new database, e.g. "
                "DATABASE_URL=sqlite:///demo.db decisions demo"
            )
        summary = run_demo(rt, clock, last, seed, progress=lambda line: click.echo(line, err=True))
        rt.checkpoints.create()
    finally:
        rt.close()
    click.echo(
        f"demo organisation {summary.start} to {summary.end}: {summary.filed} decisions filed "
        f"(tier 1: {summary.by_tier[1]}, tier 2: {summary.by_tier[2]}, tier 3: {summary.by_tier[3]}), "
        f"{summary.approved} approved, {summary.rejected} rejected, {summary.amended} amended, "
        f"{summary.break_glass} break-glass, {summary.delegations} delegations, {summary.still_pending} still open; "
        f"baseline of {summary.baseline_rows} pre-adoption items imported."
    )
    click.echo("next: decisions metrics effect --period quarter   |   decisions log audit   |   decisions serve")
