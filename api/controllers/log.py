"""The log for auditors: verify and export (streamed)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any, Literal

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from api.auth import ADMINS, AUDITORS, EVERYONE, runtime_of
from api.filters import EXPORT_FILTER
from api.openapi import Variants, problems
from api.schemas import CheckpointView, JobStarted, PublicKeyView
from engine.log.audit import AuditResult
from engine.log.autosign import log_size, sign_before_export
from engine.log.bundle import ProofBundle, build_bundle
from engine.log.evidence import filename, write_bundle
from engine.log.export import ExportFilter, export_lines
from engine.log.jobs import JobKind, run_job, start_job
from engine.log.proofs import ConsistencyProof, InclusionProof, prove_consistency, prove_inclusion
from engine.log.status import VerificationStatus, unverified, verification_status
from engine.log.verifications import latest
from engine.runtime import Runtime


@get(
    "/log/proof/inclusion",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="RFC 9162 inclusion proof of event `seq` in the tree of `size` (default: the whole log)",
    description="The audit path from event `seq`'s leaf to the root of the first `size` events.",
    responses=problems(422),
)
def inclusion(
    request: Request[Any, Any, Any],
    seq: Annotated[int, QueryParameter(ge=0)],
    size: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> InclusionProof:
    return prove_inclusion(runtime_of(request).service.engine, seq, size)


@get(
    "/log/proof/consistency",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="RFC 9162 consistency proof between tree sizes `from` and `to` (default: the whole log)",
    description="Proves the log of size `to` extends the log of size `from` without rewriting it.",
    responses=problems(422),
)
def consistency(
    request: Request[Any, Any, Any],
    first: Annotated[int, QueryParameter(ge=0, name="from")],
    # schema_extra: Litestar drops a bound of 0 on an optional parameter (it tests the bound for truth).
    second: Annotated[int | None, QueryParameter(ge=0, name="to", schema_extra={"minimum": 0})] = None,
) -> ConsistencyProof:
    return prove_consistency(runtime_of(request).service.engine, first, second)


MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


@get(
    "/log/verify",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="The chain's verification: the events since the latest stored result checked now, the rest by it",
    description="Checks the events appended since the latest stored verification (chain links, the stored "
    "Merkle frontier extended to the new root, the signed checkpoints and the chain head row), so it costs what "
    "was appended, not the history; `checked_from` says where the check began and `stored` which result covers "
    "the events before it; `full` is the latest full verification and when it ran. When nothing is stored yet, "
    "a full verification runs first in the verification worker (not in the server) and this waits for it. "
    "POST /log/verify starts a new full verification.",
)
def verify(request: Request[Any, Any, Any]) -> VerificationStatus:
    return verification_now(runtime_of(request), wait=None)


def verification_now(runtime: Runtime, wait: float | None) -> VerificationStatus:
    """The tail checked now; when nothing is stored, the worker's full verification first (up to `wait` s)."""
    service = runtime.service
    status = verification_status(service.engine, service.origin, runtime.checkpoints, service.clock)
    if status is None:
        run_job(service.engine, runtime.database_url, "full", timeout=wait)
        status = verification_status(service.engine, service.origin, runtime.checkpoints, service.clock)
    if status is None:
        return unverified(service.engine, "not verified yet: a full verification is running in the background")
    return status


@post(
    "/log/verify",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="Start a full verification of the log in the verification worker",
    description="Reads every event again, out of the serving process; GET /log/verify and the audit page show "
    "the stored result when it is done. `started` is false when a verification or replay is running already.",
    status_code=202,
)
def start_verify(request: Request[Any, Any, Any]) -> JobStarted:
    return _start(runtime_of(request), "full")


@post(
    "/log/audit",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="Start a replay audit of the log in the verification worker",
    description="GET /log/audit and the audit page show the stored verdict when it is done. `started` is false "
    "when a verification or replay is running already.",
    status_code=202,
)
def start_audit(request: Request[Any, Any, Any]) -> JobStarted:
    return _start(runtime_of(request), "audit")


def _start(runtime: Runtime, kind: JobKind) -> JobStarted:
    return JobStarted(kind=kind, started=start_job(runtime.service.engine, runtime.database_url, kind))


@get(
    "/log/audit",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="Replay the whole log through the rules: was every step allowed?",
    description="Legitimacy, where /log/verify is integrity. Every command event is decided again by the "
    "service's rules with the policy, directory, delegations and decision states the log itself records at "
    "that instant; `first_bad_seq` and `reason` name the first step the rules refuse or would have recorded "
    "differently. The latest stored replay when it covers the whole log; otherwise a replay runs in the "
    "verification worker (not in the server) and this waits for it, in time proportional to the log.",
)
def audit(request: Request[Any, Any, Any]) -> AuditResult:
    runtime = runtime_of(request)
    engine = runtime.service.engine
    stored = latest(engine, ["audit"])
    # An illegitimate step stays illegitimate (the log is append-only): a stored failure stands as it is.
    if stored is None or (stored.ok and stored.size < log_size(engine)):
        run_job(engine, runtime.database_url, "audit")
        stored = latest(engine, ["audit"])
    if stored is None:
        raise ServiceUnavailableException("the replay audit did not run; see the server's log")
    return AuditResult(ok=stored.ok, size=stored.size, first_bad_seq=stored.first_bad_seq, reason=stored.reason)


@get(
    "/log/export",
    opt={"roles": frozenset({"auditor"})},
    dependencies=EXPORT_FILTER,
    # In a thread: a checkpoint covering the export is signed first when the log has grown.
    sync_to_thread=True,
    tags=["log"],
    summary="Export the log, streamed: JSONL lines are the stored bodies byte for byte",
    description="`format=jsonl` (default): one stored event per line, `application/x-ndjson`. `format=csv`: one row "
    "per event, `text/csv`. Filters narrow the export; /log/export/proofs proves a filtered export.",
    responses={
        200: Variants(
            str,
            media_type="application/x-ndjson",
            description="The events, oldest first, as an attachment.",
            generate_examples=False,
            alternatives={"text/csv": "format=csv: a header row, then one row per event."},
        )
    },
)
def export(
    request: Request[Any, Any, Any],
    *,  # the document lists the parameters in this order: `format`, then the filters
    format: FromQuery[Literal["jsonl", "csv"]] = "jsonl",
    filters: NamedDependency[ExportFilter],
) -> Stream:
    runtime = runtime_of(request)
    # Every parameter is checked before this runs (the filters by their dependency): before the 200 and the
    # first byte, as a stream cannot take back its status.
    sign_before_export(runtime.checkpoints)
    return Stream(
        export_lines(runtime.service.engine, format, filters),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="decision-log.{format}"'},
    )


def _checkpoint_view(request: Request[Any, Any, Any], size: int, root_hash: str, note: str) -> CheckpointView:
    checkpoints = runtime_of(request).checkpoints
    return CheckpointView(
        origin=checkpoints.origin, size=size, root_hash=root_hash, note=note, key_fingerprints=checkpoints.fingerprints
    )


@post(
    "/log/checkpoint",
    # A checkpoint is a write (append-only, but a write): auditors, being read-only, ask an admin
    # or read the ones signed at every digest window close.
    opt={"roles": ADMINS},
    sync_to_thread=True,
    tags=["log"],
    summary="Sign a checkpoint of the current log head (never one inconsistent with an earlier checkpoint)",
    description="A C2SP signed note over the tree size and root hash; kept, and served by GET /log/checkpoint.",
    status_code=201,
)
def create_checkpoint(request: Request[Any, Any, Any]) -> CheckpointView:
    c = runtime_of(request).checkpoints.create()
    return _checkpoint_view(request, c.size, c.root_hash, c.note)


@get(
    "/log/checkpoint",
    opt={"roles": AUDITORS},
    sync_to_thread=True,
    tags=["log"],
    summary="The latest signed checkpoint; ?format=note gives the bare C2SP signed note",
    description="`format=note` answers `text/plain`: the note alone, to save for `decisions log verify --checkpoint`.",
    responses={
        200: Variants(
            CheckpointView,
            description="The latest checkpoint.",
            generate_examples=False,
            alternatives={"text/plain": "format=note: the C2SP signed note, verbatim."},
        ),
        **problems(404),
    },
)
def latest_checkpoint(
    request: Request[Any, Any, Any], format: FromQuery[Literal["json", "note"]] = "json"
) -> Response[Any]:
    c = runtime_of(request).checkpoints.latest()
    if c is None:
        raise NotFoundException("no checkpoint has been signed yet")
    if format == "note":
        return Response(c.note, media_type="text/plain")
    return Response(_checkpoint_view(request, c.size, c.root_hash, c.note))


@get(
    "/log/public-key",
    opt={"roles": EVERYONE},
    sync_to_thread=True,
    tags=["log"],
    summary="The verifier keys of the checkpoint signatures (note format) and their fingerprints",
    description="`format=text` answers `text/plain`: one verifier key per line, for offline verification.",
    responses={
        200: Variants(
            PublicKeyView,
            description="The verifier keys.",
            generate_examples=False,
            alternatives={"text/plain": "format=text: one verifier key per line."},
        )
    },
)
def public_key(request: Request[Any, Any, Any], format: FromQuery[Literal["json", "text"]] = "json") -> Response[Any]:
    checkpoints = runtime_of(request).checkpoints
    if format == "text":
        return Response("".join(k + "\n" for k in checkpoints.verifier_keys), media_type="text/plain")
    return Response(PublicKeyView(keys=checkpoints.verifier_keys, fingerprints=checkpoints.fingerprints))


@get(
    "/log/export/proofs",
    opt={"roles": frozenset({"auditor"})},
    dependencies=EXPORT_FILTER,
    sync_to_thread=True,
    tags=["log"],
    summary="Inclusion proofs of a (filtered) export's events against the latest signed checkpoint",
    description="Same filters as /log/export. Verify with `decisions log verify --export F --proofs P "
    "--public-key K` or tools/verify_export.py F --proofs P --public-key K.",
    responses=problems(409),
)
def export_proofs(request: Request[Any, Any, Any], filters: NamedDependency[ExportFilter]) -> ProofBundle:
    runtime = runtime_of(request)
    latest = runtime.checkpoints.latest()
    return build_bundle(runtime.service.engine, latest.note if latest else None, latest.size if latest else 0, filters)


#: The zip is built in memory up to this size, then in a temporary file: it is read back to stream it.
SPOOL_BYTES = 8 * 1024 * 1024


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        spool.seek(0)
        while chunk := spool.read(64 * 1024):
            yield chunk
    finally:
        spool.close()


@get(
    "/log/bundle",
    opt={"roles": AUDITORS},
    dependencies=EXPORT_FILTER,
    sync_to_thread=True,
    tags=["log"],
    summary="The evidence bundle: a zip of the export, the signed checkpoint, the public key, proofs, every policy "
    "version and the stdlib verifier, with a README of the exact commands",
    description="Same filters as /log/export; with a filter the zip carries each event's inclusion proof. "
    "A checkpoint is signed first when the log has grown; the export stops at that checkpoint's size.",
    responses={
        200: ResponseSpec(
            bytes, media_type="application/zip", description="The zip, as an attachment.", generate_examples=False
        )
    },
)
def bundle(request: Request[Any, Any, Any], filters: NamedDependency[ExportFilter]) -> Stream:
    return bundle_response(runtime_of(request), filters)


def bundle_response(runtime: Runtime, flt: ExportFilter) -> Stream:
    """Build the zip (blocking: call from a worker thread) and stream it back from the spool."""
    now = runtime.service.clock()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by _chunks)
    try:
        write_bundle(runtime.checkpoints, flt, spool, now)  # type: ignore[arg-type]
    except BaseException:
        spool.close()
        raise
    return Stream(
        _chunks(spool),  # type: ignore[arg-type]
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename(flt, now)}"'},
    )
