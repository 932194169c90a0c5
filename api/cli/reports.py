"""`decisions digest` and `decisions metrics`: the review digests and escalation figures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from api.cli.common import Context, pass_context
from api.cli.root import main


@main.group()
def digest() -> None:
    """Review digests: the week (weekly_sync) or fortnight (director_review) containing a date."""


def _digest_options(fn: Any) -> Any:
    fn = click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None,
                      help="Any day of the window (policy timezone); default today")(fn)  # fmt: skip
    return fn


@digest.command("weekly")
@_digest_options
@click.option("--format", "fmt", type=click.Choice(["json", "md", "html"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_context
def digest_weekly(obj: Context, day: datetime | None, fmt: str, output: Path | None) -> None:
    """The weekly digest."""
    _write_digest(obj, "weekly", day, fmt, output)


@digest.command("biweekly")
@_digest_options
@click.option("--format", "fmt", type=click.Choice(["json", "md", "html"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_context
def digest_biweekly(obj: Context, day: datetime | None, fmt: str, output: Path | None) -> None:
    """The bi-weekly digest for the director's review."""
    _write_digest(obj, "biweekly", day, fmt, output)


def _write_digest(obj: Context, kind: str, day: datetime | None, fmt: str, output: Path | None) -> None:
    from engine.review.render import render_digest

    with obj.runtime() as rt:
        built = rt.reviews.digest(kind, day.date() if day else None)
        body = render_digest(built, fmt, rt.reviews.policy_of(built) if fmt != "json" else None)
    if output is None:
        click.echo(body.decode(), nl=False)
    else:
        output.write_bytes(body)
        click.echo(f"written to {output}", err=True)


@digest.command("send")
@click.argument("kind", type=click.Choice(["weekly", "biweekly"]))
@_digest_options
@click.option("--to", "recipients", multiple=True, help="Default: the tech PMs and the director")
@pass_context
def digest_send(obj: Context, kind: str, day: datetime | None, recipients: tuple[str, ...]) -> None:
    """Queue the digest of the last closed window for delivery (for cron); the outbox sends it once."""
    from datetime import timedelta

    from engine.notify.outbox import enqueue_digest

    with obj.runtime() as rt:
        if not rt.notify.channels:
            raise click.ClickException("no notification channel is configured (DECISIONS_WEBHOOK_URL, ...)")
        policy = rt.policies.current
        if day is None:
            current = rt.reviews.window(kind)
            target = current.start_local - timedelta(days=1)  # the window that just closed
        else:
            target = day.date()
        built = rt.reviews.digest(kind, target)
        people = list(recipients) or sorted(p.name for p in policy.people.values() if p.roles & {"tech_pm", "director"})
        label = f"{built.cadence}:{built.window_start.isoformat()}"
        # Sent to today's people, in the words of the policy the window closed under (as `decisions digest` prints it).
        words = rt.reviews.policy_of(built)
        now = rt.service.clock()
        queued = enqueue_digest(rt.service.engine, policy, rt.notify, built, kind, people, now, words=words)
    click.echo(f"queued {queued} message(s) for {label}")


@main.group()
def metrics() -> None:
    """Escalation metrics."""


@metrics.command("escalations")
@click.option("--period", type=click.Choice(["week", "month", "quarter"]), default="week", show_default=True)
@click.option("--periods", type=click.IntRange(1, 104), default=8, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["json", "md", "html"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_context
def metrics_escalations(obj: Context, period: str, periods: int, fmt: str, output: Path | None) -> None:
    """Filed, per tier, reached the director, escalation rate and its change, per period."""
    from engine.review.render import render_escalations

    with obj.runtime() as rt:
        body = render_escalations(rt.reviews.escalations(period, periods), fmt)
    if output is None:
        click.echo(body.decode(), nl=False)
    else:
        output.write_bytes(body)
