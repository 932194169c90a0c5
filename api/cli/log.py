"""`decisions log`: verify, export, checkpoints, proofs and rebuild of the decision log."""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path
from typing import Any

import click
import msgspec

from api.cli.common import Context, echo_json, pass_context, progress_counter
from api.cli.root import main


@main.group()
def log() -> None:
    """The decision log."""


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
@click.option(
    "--record",
    is_flag=True,
    help="Store the result (the audit page and GET /v1/log/verify show it); without --full, check only the "
    "events after the latest stored result",
)
@click.option("--full", is_flag=True, help="With --record: verify the whole log, not only the new events")
@pass_context
def log_verify(
    obj: Context,
    export_file: Path | None,
    checkpoint: Path | None,
    public_key: Path | None,
    proofs: Path | None,
    record: bool,
    full: bool,
) -> None:
    """Check the chain; exit 1 with the first bad seq when it is broken."""
    from engine.log.chain import verify_export

    if record and export_file is not None:
        raise click.UsageError("--record stores results about the database, not about an export")

    progress = progress_counter("verified")
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
            echo_json(checked)
            if not checked.ok:
                click.echo(f"BROKEN at seq {checked.first_bad_seq}: {checked.reason}", err=True)
                raise SystemExit(1)
            click.echo(f"OK: {checked.proven} events proven in the signed tree of {bundle.tree_size}; "
                       f"{len(checked.unproven)} after it", err=True)  # fmt: skip
            return
        with export_file.open("rb") as lines:
            result = verify_export(lines, checkpoint.read_text() if checkpoint else None, keys, progress=progress)
    elif record:
        result = _verify_and_record(obj, full)
    else:
        with obj.runtime() as rt:
            result = rt.service.verify_log()
    click.echo("", err=True)
    echo_json(result)
    if not result.ok:
        where = f" at seq {result.first_bad_seq}" if result.first_bad_seq is not None else ""
        click.echo(f"BROKEN{where}: {result.reason}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {result.size} events, head {result.head_hash}", err=True)


def _verify_and_record(obj: Context, full: bool) -> Any:
    """`log verify --record [--full]`: the tail after the latest stored result, or everything; stored."""
    from engine.log.incremental import verify_and_record_tail
    from engine.log.recorded import verify_full_and_record

    with obj.runtime() as rt:
        engine, origin, clock = rt.service.engine, rt.service.origin, rt.service.clock
        if not full:
            tail, stored = verify_and_record_tail(engine, origin, rt.checkpoints, clock)
            if tail.result is not None:
                if tail.base is not None and tail.base.ok:
                    click.echo(f"checked events {tail.base.size} to {tail.result.size} after stored verification "
                               f"#{tail.base.id} ({tail.base.kind}, {tail.base.finished_at:%Y-%m-%d %H:%M:%S} UTC)",
                               err=True)  # fmt: skip
                if stored is not None:
                    click.echo(f"recorded as verification #{stored.id}", err=True)
                return tail.result
            click.echo(f"{tail.missing}: verifying the whole log", err=True)
        result, stored = verify_full_and_record(engine, origin, rt.checkpoints.trusted(), clock)
        click.echo(f"recorded as verification #{stored.id}", err=True)
        return result


@log.command("audit")
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replay an exported JSONL file (log export) instead of the database",
)
@click.option("--record", is_flag=True, help="Store the result (the audit page and GET /v1/log/audit show it)")
@pass_context
def log_audit(obj: Context, export_file: Path | None, record: bool) -> None:
    """Replay the whole log through the rules; exit 1 naming the first step that was not allowed.

    Uses nothing but the log: each policy version's text, the delegations and the decisions'
    states come from its events. Reads only (`--record` adds one row of results). Integrity (hashes,
    checkpoints) is `log verify`'s job.
    """
    from engine.log.audit import audit_database, audit_export
    from engine.store.db import create_db_engine, normalise_url

    progress = progress_counter("replayed")
    if record and export_file is not None:
        raise click.UsageError("--record stores results about the database, not about an export")
    if record:
        from engine.log.recorded import audit_and_record
        from engine.service import system_clock

        engine = create_db_engine(normalise_url(obj.database_url))
        try:
            result, stored = audit_and_record(engine, system_clock, progress)
        finally:
            engine.dispose()
        click.echo(f"\nrecorded as audit #{stored.id}", err=True)
    elif export_file is not None:
        with export_file.open("rb") as lines:
            result = audit_export(lines, progress)
    else:
        engine = create_db_engine(normalise_url(obj.database_url))
        try:
            result = audit_database(engine, progress)
        finally:
            engine.dispose()
    click.echo("", err=True)
    if not result.ok:
        click.echo(f"ILLEGITIMATE: {result.reason}")
        raise SystemExit(1)
    click.echo(f"OK: {result.size} events replayed, every step allowed by the rules")


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

    from engine.log.export import ExportFilter, export_lines

    flt = ExportFilter(
        since=since.replace(tzinfo=UTC) if since else None,
        until=until.replace(tzinfo=UTC) if until else None,
        category=category,
        tier=tier,
    )
    from engine.log.autosign import sign_before_export

    with obj.runtime() as rt:
        sign_before_export(rt.checkpoints)
        # The proofs first: events filed while the export runs are then simply "after the checkpoint".
        if proofs is not None:
            from engine.log.bundle import build_bundle

            latest = rt.checkpoints.latest()
            bundle = build_bundle(rt.service.engine, latest.note if latest else None, latest.size if latest else 0,
                                  flt)  # fmt: skip
            proofs.write_bytes(msgspec.json.encode(bundle))
        with output.open("wb") as out:
            for chunk in export_lines(rt.service.engine, fmt, flt, progress=progress_counter("exported")):  # type: ignore[arg-type]
                out.write(chunk)
    click.echo(f"\nwritten to {output}" + (f" and {proofs}" if proofs else ""), err=True)


@log.command("bundle")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The zip")
@click.option("--category", default=None)
@click.option("--tier", type=click.IntRange(1, 3), default=None)
@click.option("--since", type=click.DateTime(), default=None, help="UTC")
@click.option("--until", type=click.DateTime(), default=None, help="UTC")
@pass_context
def log_bundle(obj: Context, output: Path, category: str | None, tier: int | None, since: Any, until: Any) -> None:
    """The evidence bundle: a zip an auditor verifies offline with python3 alone (see its README.txt)."""
    from engine.log.evidence import write_bundle
    from engine.log.export import ExportFilter

    flt = ExportFilter(
        since=since.replace(tzinfo=UTC) if since else None,
        until=until.replace(tzinfo=UTC) if until else None,
        category=category,
        tier=tier,
    )
    partial = output.with_name(output.name + ".partial")
    with obj.runtime() as rt:
        try:
            with partial.open("wb") as out:
                summary = write_bundle(rt.checkpoints, flt, out, rt.service.clock())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, output)  # never a half-written zip under the name asked for
    click.echo(f"{summary.events} events of the signed tree of {summary.tree_size}, {summary.policies} policy "
               f"versions: written to {output}", err=True)  # fmt: skip
    click.echo(f"verify: unzip it in an empty directory and run  {summary.command}", err=True)


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
        echo_json(prove_inclusion(rt.service.engine, seq, size))


@log_proof.command("consistency")
@click.option("--from", "first", type=click.IntRange(min=0), required=True)
@click.option("--to", "second", type=click.IntRange(min=0), default=None, help="Default: the whole log")
@pass_context
def log_proof_consistency(obj: Context, first: int, second: int | None) -> None:
    """Proof that the tree of FROM leaves is a prefix of the tree of TO leaves."""
    from engine.log.proofs import prove_consistency

    with obj.runtime() as rt:
        echo_json(prove_consistency(rt.service.engine, first, second))


@log.command("rebuild")
@click.option("--check", "mode", flag_value="check", default=True, help="Compare the read model with a replay")
@click.option("--apply", "mode", flag_value="apply", help="Replace the read model with the replay")
@pass_context
def log_rebuild(obj: Context, mode: str) -> None:
    """Replay the log into the decisions read model (check or apply)."""
    from engine.log import rebuild

    with obj.runtime() as rt:
        if mode == "apply":
            report = rebuild.apply(rt.service.engine, progress_counter("replayed"))
            click.echo(f"\nrebuilt {report.decisions} decisions from {report.events} events")
            return
        report = rebuild.compare(rt.service.engine, progress_counter("replayed"))
    click.echo("", err=True)
    if report.ok:
        click.echo(f"read model matches the log: {report.decisions} decisions, {report.events} events")
        return
    click.echo(f"missing: {report.missing}\nextra: {report.extra}\ndifferent: {report.different}", err=True)
    if report.counts:
        click.echo(f"decision_counts (replay, table): {report.counts}", err=True)
    raise SystemExit(1)
