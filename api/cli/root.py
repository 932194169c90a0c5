"""The `decisions` group: global options, and one clear line for database failures."""

from __future__ import annotations

from typing import Any

import click

from api.cli.common import Context


class _Group(click.Group):
    """Database failures the operator can fix (wrong URL, not a database, server down) are one clear
    sentence and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            url = ctx.find_object(Context)
            where = url.database_url if url is not None else "the database"
            raise click.ClickException(f"cannot use {where}: {exc.orig}") from exc


@click.group(cls=_Group)
@click.version_option(package_name="decision-rights", prog_name="decisions", message="%(prog)s %(version)s")
@click.option("--database-url", envvar="DATABASE_URL", help="Default: sqlite:///decisions.db")
@click.option("--policy", "policy_path", envvar="DECISIONS_POLICY", help="Default: policies.yaml")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, policy_path: str | None) -> None:
    """decision-rights: who may decide what."""
    ctx.obj = Context(database_url, policy_path)
