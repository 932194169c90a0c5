"""The `decisions` group: global options, and one clear line for database failures."""

from __future__ import annotations

import errno
import os
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
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except DBAPIError as exc:
            url = ctx.find_object(Context)
            where = url.database_url if url is not None else "the database"
            raise click.ClickException(f"cannot use {where}: {one_line(str(exc.orig))}") from exc
        except OSError as exc:
            raise click.ClickException(os_error_line(exc)) from exc
        except Exception as exc:
            if os.environ.get("DECISIONS_DEBUG") == "1":
                raise
            raise click.ClickException(
                f"{type(exc).__name__}: {one_line(str(exc))} (DECISIONS_DEBUG=1 shows the traceback)"
            ) from exc


def one_line(text: str) -> str:
    return " ".join(text.split()) or "no detail"


def os_error_line(exc: OSError) -> str:
    """`No space left on device: /var/lib/decisions/checkpoint.tmp`, plus what to do when we know."""
    where = f": {exc.filename}" if exc.filename else ""
    what = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: "; free some space and run the command again (nothing was changed)",
        errno.EDQUOT: "; the disk quota is exhausted (nothing was changed)",
        errno.EROFS: "; the file system is read-only",
        errno.EACCES: "; check the permissions",
    }.get(exc.errno or 0, "")
    return f"{what}{where}{hint}"


@click.group(cls=_Group)
@click.version_option(package_name="decision-rights", prog_name="decisions", message="%(prog)s %(version)s")
@click.option("--database-url", envvar="DATABASE_URL", help="Default: sqlite:///decisions.db")
@click.option("--policy", "policy_path", envvar="DECISIONS_POLICY", help="Default: policies.yaml")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, policy_path: str | None) -> None:
    """decision-rights: who may decide what."""
    ctx.obj = Context(database_url, policy_path)
