"""`decisions token`: personal API tokens: create (optionally expiring, optionally read-only), list, revoke one or
all of a person's."""

from __future__ import annotations

from datetime import datetime

import click

from api.cli.common import Context, pass_context
from api.cli.root import main
from engine.identity import DEFAULT_SCOPE, TOKEN_SCOPES, TokenInfo, TokenScope
from policy.durations import DURATION_HINT, parse_duration


@main.group()
def token() -> None:
    """API tokens."""


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


@token.command("create")
@click.argument("user")
@click.option("--label", default=None, help="What the token is for, shown by `token list`")
@click.option("--expires", default=None, help="Lifetime, e.g. 90d, 12w or 36h; default: until revoked")
@click.option(
    "--scope",
    type=click.Choice(TOKEN_SCOPES),
    default=DEFAULT_SCOPE,
    show_default=True,
    help="full: whatever USER may do; read: GET requests and classify only (the API refuses the rest with 403, "
    "and the sign-in page refuses the token)",
)
@pass_context
def token_create(obj: Context, user: str, label: str | None, expires: str | None, scope: TokenScope) -> None:
    """Mint a token for USER (a person of the policy's directory); printed once, on the last line."""
    try:
        lifetime = parse_duration(expires) if expires else None
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; {DURATION_HINT}", param_hint="--expires") from exc
    with obj.runtime() as rt:
        identity = rt.service.identity
        others = identity.live_tokens(user) if user in rt.policies.current.people else 0
        expires_at = rt.service.clock() + lifetime if lifetime else None
        secret = identity.create_token(user, label, expires_at, scope)
    until = f", scope {scope}" + (f", expires {_when(expires_at)}" if expires_at else ", no expiry")
    others_text = {0: "no other live token", 1: "1 other live token"}.get(others, f"{others} other live tokens")
    click.echo(f"token for {user}{until}; {user} has {others_text} (decisions token list {user}).", err=True)
    click.echo("store it now: only its hash is kept", err=True)
    click.echo(secret)


@token.command("list")
@click.argument("user", required=False)
@click.option("--all", "include_dead", is_flag=True, help="Also revoked and expired tokens")
@pass_context
def token_list(obj: Context, user: str | None, include_dead: bool) -> None:
    """Live tokens (of USER, or everyone's): id, person, label, scope, created, last used, expiry. Never the secret."""
    with obj.runtime() as rt:
        tokens = rt.service.identity.list_tokens(user, include_dead=include_dead)
        now = rt.service.clock()
    if not tokens:
        click.echo(f"no {'' if include_dead else 'live '}tokens" + (f" for {user}" if user else ""), err=True)
        return
    rows: list[tuple[str, ...]] = [("ID", "PERSON", "LABEL", "SCOPE", "CREATED", "LAST USED", "EXPIRES", "STATE")]
    rows += [_row(t, now) for t in tokens]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def _row(t: TokenInfo, now: datetime) -> tuple[str, ...]:
    # Last use is recorded at most once a minute: "-" means never used since that was recorded.
    return (t.id, t.person, t.label or "-", t.scope, _when(t.created_at), _when(t.last_used_at), _when(t.expires_at),
            t.state(now))  # fmt: skip


@token.command("revoke")
@click.argument("user", required=False)
@click.option("--id", "token_id", default=None, help="Revoke only this token (its id from `token list`)")
@pass_context
def token_revoke(obj: Context, user: str | None, token_id: str | None) -> None:
    """Revoke every token of USER, or one token with --id."""
    if (user is None) == (token_id is None):
        raise click.UsageError("name a person (every token of theirs) or --id ID (one token), not both")
    with obj.runtime() as rt:
        if token_id is not None:
            info = rt.service.identity.revoke_token(token_id)
            click.echo(f"token {info.id} of {info.person} is revoked" + (f" ({info.label})" if info.label else ""))
            return
        assert user is not None
        count = rt.service.revoke_tokens(user)
    click.echo(f"revoked {count} token(s) of {user}")
