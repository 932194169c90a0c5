"""`decisions notify`: the notification outbox."""

from __future__ import annotations

import click

from api.cli.common import Context, pass_context
from api.cli.root import main


@main.group()
def notify() -> None:
    """The notification outbox (for cron, or run DECISIONS_NOTIFY=1 in the server)."""


@notify.command("deliver")
@click.option("--until-idle", is_flag=True, help="Keep delivering while messages are due")
@pass_context
def notify_deliver(obj: Context, until_idle: bool) -> None:
    """Send the due notifications once (retries follow their back-off)."""
    from engine.notify.delivery import deliver_due
    from engine.notify.outbox import enqueue_overdue

    with obj.runtime() as rt:
        now = rt.service.clock()
        enqueue_overdue(rt.service.engine, rt.policies.current, rt.notify, now)
        rt.service.sweep_reminders(now)
        total = 0
        while True:
            report = deliver_due(rt.service.engine, rt.notify, rt.service.clock())
            total += report.delivered
            for error in report.errors:
                click.echo(f"retry later: {error}", err=True)
            if not until_idle or (report.delivered == 0 and report.failed == 0) or report.failed:
                break
    click.echo(f"delivered {total}")
