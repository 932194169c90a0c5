"""`decisions token`: personal API tokens."""

from __future__ import annotations

import click

from api.cli.common import Context, pass_context
from api.cli.root import main


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("user")
@click.option("--label", default=None)
@pass_context
def token_create(obj: Context, user: str, label: str | None) -> None:
    """Mint a token for USER (a person of the policy's directory); printed once, on the last line."""
    with obj.runtime() as rt:
        secret = rt.service.create_token(user, label)
    click.echo(f"token for {user} (store it now: only its hash is kept):", err=True)
    click.echo(secret)


@token.command("revoke")
@click.argument("user")
@pass_context
def token_revoke(obj: Context, user: str) -> None:
    """Revoke every token of USER."""
    with obj.runtime() as rt:
        count = rt.service.revoke_tokens(user)
    click.echo(f"revoked {count} token(s) of {user}")
