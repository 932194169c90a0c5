"""The `decisions` command line: an operator's tool that runs on the server, beside the database."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import msgspec

from api.config import Settings
from engine.errors import DomainError
from engine.runtime import Runtime, open_runtime, upgrade_database
from engine.types import DelegationRequest, FilingRequest
from policy import PolicyLoadError, load_policy


def _echo_json(value: Any) -> None:
    click.echo(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


def _parse_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`key=value` arguments; values are JSON when they parse (numbers, true, lists), else strings."""
    attributes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="ATTRIBUTES")
        try:
            attributes[key] = json.loads(raw)
        except ValueError:
            attributes[key] = raw
    return attributes


class Context:
    def __init__(self, database_url: str | None, policy_path: str | None) -> None:
        settings = Settings.from_env()
        self.database_url = database_url or settings.database_url
        self.policy_path = policy_path or settings.policy_path
        self.settings = settings

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        try:
            rt = open_runtime(self.database_url, self.policy_path)
        except PolicyLoadError as exc:
            raise click.ClickException(f"the policy does not load:\n{exc}") from exc
        try:
            yield rt
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            rt.close()


pass_context = click.make_pass_decorator(Context)


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
@click.option("--database-url", envvar="DATABASE_URL", help="Default: sqlite:///decisions.db")
@click.option("--policy", "policy_path", envvar="DECISIONS_POLICY", help="Default: policies.yaml")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, policy_path: str | None) -> None:
    """decision-rights: who may decide what."""
    ctx.obj = Context(database_url, policy_path)


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


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: Context) -> None:
    """Apply every migration (alembic upgrade head)."""
    upgrade_database(obj.database_url)
    click.echo("database is at the latest schema")


@db.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def db_backup(obj: Context, target: Path) -> None:
    """Consistent online copy of the SQLite database while filing continues."""
    import sqlite3

    from engine.store.backup import backup_sqlite

    if not target.parent.is_dir():
        raise click.ClickException(f"{target.parent} is not a directory; create it first")
    with click.progressbar(length=100, label="backing up", file=sys.stderr) as bar:
        done = [0]

        def progress(copied: int, total: int) -> None:
            pct = int(copied * 100 / total) if total else 100
            bar.update(pct - done[0])
            done[0] = pct

        try:
            backup_sqlite(obj.database_url, target, progress)
        except (ValueError, OSError, sqlite3.Error) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {target}")


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
            _echo_json({"ok": False, "errors": [dataclasses.asdict(i) for i in exc.issues]})
        else:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
        raise SystemExit(1) from exc
    findings = analyse(loaded, Path(path).read_text(encoding="utf-8"))
    errors = [f for f in findings if f.severity == "error"]
    if fmt == "json":
        _echo_json({"ok": not errors, "version": loaded.version, "findings": findings})
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
    changes = diff_policies(a, old.read_text(encoding="utf-8"), b, new.read_text(encoding="utf-8"))
    if fmt == "json":
        _echo_json({"old": a.version, "new": b.version, "changes": changes})
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
    progress = _counter("replayed")
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
            candidate = rt.governance.propose(file.read_text(encoding="utf-8"), str(file))
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
            result = rt.service.file(_person(rt, filer), request)
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
            active = rt.governance.activate_file(actor)
        except PolicyLoadError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"active policy version {active.version}")


def _person(rt: Runtime, name: str) -> Any:
    person = rt.policies.current.people.get(name)
    if person is None:
        raise click.ClickException(f"{name!r} is not in the policy's people directory")
    return person


@main.command()
@click.argument("category")
@click.argument("attributes", nargs=-1)
@click.option("--as", "actor", default="system", help="Whose view (only matters for routing)")
@pass_context
def classify(obj: Context, category: str, attributes: tuple[str, ...], actor: str) -> None:
    """Dry run: the tier, route and explanation for CATEGORY key=value..."""
    from engine.errors import InvalidInput
    from policy.compiled import Person

    with obj.runtime() as rt:
        person = rt.policies.current.people.get(actor) or Person(actor, frozenset())
        try:
            view = rt.service.classify(
                person, FilingRequest(title="(dry run)", category=category, attributes=_parse_pairs(attributes))
            )
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(view.explanation.summary)
    _echo_json(view)


@main.command("file")
@click.argument("category")
@click.argument("attributes", nargs=-1)
@click.option("--as", "actor", required=True, help="The filer (a person of the directory)")
@click.option("--title", required=True)
@click.option("--rationale", default=None)
@pass_context
def file_decision(
    obj: Context, category: str, attributes: tuple[str, ...], actor: str, title: str, rationale: str | None
) -> None:
    """File a decision as a person of the directory."""
    with obj.runtime() as rt:
        try:
            request = msgspec.convert(
                {"title": title, "category": category, "attributes": _parse_pairs(attributes), "rationale": rationale},
                FilingRequest,
            )
        except msgspec.ValidationError as exc:
            raise click.ClickException(str(exc)) from exc
        result = rt.service.file(_person(rt, actor), request)
    click.echo(f"{result.decision.id}: tier {result.decision.tier}, {result.decision.status}")
    _echo_json(result.decision)


@main.group(invoke_without_command=True)
@click.option("--as", "actor", default=None, help="The delegator: a person holding the role in their own right")
@click.option("--to", "delegate", default=None, help="The delegate (a person of the directory)")
@click.option("--role", default=None, help="The approver role delegated, e.g. tech_pm")
@click.option("--from", "starts", type=click.DateTime(), default=None, help="Start (UTC); default now")
@click.option("--until", "ends", type=click.DateTime(), default=None, help="End (UTC), exclusive")
@click.pass_context
def delegate(
    ctx: click.Context,
    actor: str | None,
    delegate: str | None,
    role: str | None,
    starts: datetime | None,
    ends: datetime | None,
) -> None:
    """Delegate an approver role for a date range: `decisions delegate --as tomas --to ravi --role tech_pm
    --until 2026-12-24`. `decisions delegate list --as NAME` and `decisions delegate revoke ID --as NAME`."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        flag
        for flag, value in (("--as", actor), ("--to", delegate), ("--role", role), ("--until", ends))
        if value is None
    ]
    if missing or actor is None or ends is None:
        raise click.UsageError(f"missing {', '.join(missing)}")
    obj = ctx.find_object(Context)
    assert obj is not None
    start = starts.replace(tzinfo=UTC) if starts else datetime.now(UTC)
    try:
        request = msgspec.convert(
            {"delegate": delegate, "role": role, "starts_at": start, "ends_at": ends.replace(tzinfo=UTC)},
            DelegationRequest,
        )
    except msgspec.ValidationError as exc:
        raise click.ClickException(str(exc)) from exc
    with obj.runtime() as rt:
        view = rt.service.delegate(_person(rt, actor), request)
    click.echo(f"{view.id}: {view.delegator} -> {view.delegate} as {view.role} until {view.ends_at.isoformat()}")


@delegate.command("list")
@click.option("--as", "actor", required=True)
@pass_context
def delegate_list(obj: Context, actor: str) -> None:
    """Delegations a person gave or received."""
    with obj.runtime() as rt:
        views = rt.service.delegations(_person(rt, actor))
    for v in views:
        state = "revoked" if v.revoked else f"{v.starts_at.isoformat()} .. {v.ends_at.isoformat()}"
        click.echo(f"{v.id}  {v.delegator} -> {v.delegate}  {v.role}  {state}")


@delegate.command("revoke")
@click.argument("delegation_id")
@click.option("--as", "actor", required=True)
@pass_context
def delegate_revoke(obj: Context, delegation_id: str, actor: str) -> None:
    """Revoke a delegation you gave."""
    with obj.runtime() as rt:
        rt.service.revoke_delegation(_person(rt, actor), delegation_id)
    click.echo(f"{delegation_id} revoked")


@main.group()
def log() -> None:
    """The decision log."""


def _counter(label: str) -> Any:
    shown = {"n": 0}

    def progress(done: int) -> None:
        if done - shown["n"] >= 10000 or done == 0:
            click.echo(f"\r{label}: {done:,} events", nl=False, err=True)
            shown["n"] = done

    return progress


@log.command("verify")
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Verify an exported JSONL file offline instead of the database",
)
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--proofs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A proof bundle (log export --proofs): verify a filtered export event by event",
)
@pass_context
def log_verify(
    obj: Context, export_file: Path | None, checkpoint: Path | None, public_key: Path | None, proofs: Path | None
) -> None:
    """Check the chain; exit 1 with the first bad seq when it is broken."""
    from engine.log.chain import verify_export

    progress = _counter("verified")
    if export_file is not None:
        keys = [line.strip() for line in public_key.read_text().splitlines() if line.strip()] if public_key else []
        if proofs is not None:
            from engine.log.bundle import ProofBundle, verify_bundle

            try:
                bundle = msgspec.json.decode(proofs.read_bytes(), type=ProofBundle)
            except msgspec.DecodeError as exc:
                raise click.ClickException(f"{proofs} is not a proof bundle: {exc}") from exc
            with export_file.open("rb") as lines:
                checked = verify_bundle(lines, bundle, keys)
            _echo_json(checked)
            if not checked.ok:
                click.echo(f"BROKEN at seq {checked.first_bad_seq}: {checked.reason}", err=True)
                raise SystemExit(1)
            click.echo(f"OK: {checked.proven} events proven in the signed tree of {bundle.tree_size}; "
                       f"{len(checked.unproven)} after it", err=True)  # fmt: skip
            return
        with export_file.open("rb") as lines:
            result = verify_export(lines, checkpoint.read_text() if checkpoint else None, keys, progress=progress)
    else:
        with obj.runtime() as rt:
            result = rt.service.verify_log()
    click.echo("", err=True)
    _echo_json(result)
    if not result.ok:
        click.echo(f"BROKEN at seq {result.first_bad_seq}: {result.reason}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {result.size} events, head {result.head_hash}", err=True)


@log.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--category", default=None)
@click.option("--tier", type=click.IntRange(1, 3), default=None)
@click.option("--since", type=click.DateTime(), default=None, help="UTC")
@click.option("--until", type=click.DateTime(), default=None, help="UTC")
@click.option(
    "--proofs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write each event's inclusion proof against the latest checkpoint (for filtered exports)",
)
@pass_context
def log_export(
    obj: Context,
    fmt: str,
    output: Path,
    category: str | None,
    tier: int | None,
    since: Any,
    until: Any,
    proofs: Path | None,
) -> None:
    """Export the log (streamed, constant memory) with a progress count."""
    from datetime import UTC

    from engine.log.export import ExportFilter, export_lines

    flt = ExportFilter(
        since=since.replace(tzinfo=UTC) if since else None,
        until=until.replace(tzinfo=UTC) if until else None,
        category=category,
        tier=tier,
    )
    with obj.runtime() as rt:
        # The proofs first: events filed while the export runs are then simply "after the checkpoint".
        if proofs is not None:
            from engine.log.bundle import build_bundle

            latest = rt.checkpoints.latest()
            bundle = build_bundle(rt.service.engine, latest.note if latest else None, latest.size if latest else 0,
                                  flt)  # fmt: skip
            proofs.write_bytes(msgspec.json.encode(bundle))
        with output.open("wb") as out:
            for chunk in export_lines(rt.service.engine, fmt, flt, progress=_counter("exported")):  # type: ignore[arg-type]
                out.write(chunk)
    click.echo(f"\nwritten to {output}" + (f" and {proofs}" if proofs else ""), err=True)


@log.command("checkpoint")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_context
def log_checkpoint(obj: Context, output: Path | None) -> None:
    """Sign a C2SP checkpoint of the current head (refused if it would contradict an earlier one)."""
    with obj.runtime() as rt:
        c = rt.checkpoints.create()
        fingerprints = rt.checkpoints.fingerprints
    if output is not None:
        output.write_text(c.note, encoding="utf-8")
        click.echo(f"checkpoint of {c.size} events written to {output}", err=True)
    else:
        click.echo(c.note, nl=False)
    click.echo(f"signed by {', '.join(fingerprints)}", err=True)


@log.command("public-key")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_context
def log_public_key(obj: Context, output: Path | None) -> None:
    """The verifier key(s) auditors pin (generates the signing key on first use)."""
    with obj.runtime() as rt:
        text = "".join(k + "\n" for k in rt.checkpoints.verifier_keys)
        fingerprints = rt.checkpoints.fingerprints
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    click.echo(f"fingerprint: {', '.join(fingerprints)}", err=True)


@log.command("rotate-key")
@pass_context
def log_rotate_key(obj: Context) -> None:
    """Add a new signing key; checkpoints carry both signatures until the old line leaves the key file."""
    from engine.log.keys import rotate

    with obj.runtime() as rt:
        if os.environ.get("DECISIONS_SIGNING_KEY"):
            raise click.ClickException("the keys come from DECISIONS_SIGNING_KEY: add the new key there")
        new = rotate(rt.checkpoints.key_file, rt.checkpoints.origin)
        rt.checkpoints.reload_keys()
        from engine.log.keys import public_key_text

        click.echo(public_key_text(new))


@log.group("proof")
def log_proof() -> None:
    """RFC 9162 proofs over the stored log."""


@log_proof.command("inclusion")
@click.option("--seq", type=click.IntRange(min=0), required=True)
@click.option("--size", type=click.IntRange(min=1), default=None, help="Tree size (default: the whole log)")
@pass_context
def log_proof_inclusion(obj: Context, seq: int, size: int | None) -> None:
    """The audit path of event SEQ in the tree of SIZE leaves."""
    from engine.log.proofs import prove_inclusion

    with obj.runtime() as rt:
        _echo_json(prove_inclusion(rt.service.engine, seq, size))


@log_proof.command("consistency")
@click.option("--from", "first", type=click.IntRange(min=0), required=True)
@click.option("--to", "second", type=click.IntRange(min=0), default=None, help="Default: the whole log")
@pass_context
def log_proof_consistency(obj: Context, first: int, second: int | None) -> None:
    """Proof that the tree of FROM leaves is a prefix of the tree of TO leaves."""
    from engine.log.proofs import prove_consistency

    with obj.runtime() as rt:
        _echo_json(prove_consistency(rt.service.engine, first, second))


@log.command("rebuild")
@click.option("--check", "mode", flag_value="check", default=True, help="Compare the read model with a replay")
@click.option("--apply", "mode", flag_value="apply", help="Replace the read model with the replay")
@pass_context
def log_rebuild(obj: Context, mode: str) -> None:
    """Replay the log into the decisions read model (check or apply)."""
    from engine.log import rebuild

    with obj.runtime() as rt:
        if mode == "apply":
            report = rebuild.apply(rt.service.engine, _counter("replayed"))
            click.echo(f"\nrebuilt {report.decisions} decisions from {report.events} events")
            return
        report = rebuild.compare(rt.service.engine, _counter("replayed"))
    click.echo("", err=True)
    if report.ok:
        click.echo(f"read model matches the log: {report.decisions} decisions, {report.events} events")
        return
    click.echo(f"missing: {report.missing}\nextra: {report.extra}\ndifferent: {report.different}", err=True)
    raise SystemExit(1)


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
        body = render_digest(rt.reviews.digest(kind, day.date() if day else None), fmt)
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
    from engine.review.render import digest_markdown

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
        queued = enqueue_digest(
            rt.service.engine, policy, rt.notify, label, digest_markdown(built), people, rt.service.clock()
        )
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
        total = 0
        while True:
            report = deliver_due(rt.service.engine, rt.notify, rt.service.clock())
            total += report.delivered
            for error in report.errors:
                click.echo(f"retry later: {error}", err=True)
            if not until_idle or (report.delivered == 0 and report.failed == 0) or report.failed:
                break
    click.echo(f"delivered {total}")


if __name__ == "__main__":  # pragma: no cover
    main()
