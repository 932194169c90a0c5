"""`decisions serve`."""

from __future__ import annotations

import os

import click

from api.cli.common import Context, pass_context
from api.cli.root import main
from engine.log.checkpoints import STARTUP_CHECKED_ENV


@main.command()
@click.option("--host", default=None, help="Default: DECISIONS_HOST or 127.0.0.1")
@click.option("--port", type=int, default=None, help="Default: DECISIONS_PORT or 8000")
@click.option("--workers", type=int, default=1, show_default=True)
@pass_context
def serve(obj: Context, host: str | None, port: int | None, workers: int) -> None:
    """Serve the API (and the web pages)."""
    import uvicorn

    # Open once before serving: a wrong URL, a file that is not a database or a policy that does not
    # load is one clear error here, not a traceback from every worker's start-up.
    with obj.runtime() as rt:
        if rt.service.append_blocked:
            click.echo(f"WARNING: serving read-only: {rt.service.append_blocked}", err=True)
        checked = rt.checkpoints.startup_checked
    # The workers open the same database against the same checkpoint: the check just done holds for them
    # (the signed prefix cannot change under the append-only guards), so they skip reading it again.
    if checked is not None:
        os.environ[STARTUP_CHECKED_ENV] = checked
    else:
        os.environ.pop(STARTUP_CHECKED_ENV, None)
    os.environ["DATABASE_URL"] = obj.database_url
    os.environ["DECISIONS_POLICY"] = obj.policy_path
    uvicorn.run(
        "api.asgi:app",
        host=host or obj.settings.host,
        port=port or obj.settings.port,
        workers=workers,
        log_level="info",
        # One log line per request costs more than a tenth of a filing; DECISIONS_ACCESS_LOG=1 turns it on.
        access_log=os.environ.get("DECISIONS_ACCESS_LOG") == "1",
    )
