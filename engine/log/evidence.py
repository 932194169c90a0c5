"""The evidence bundle: one zip an auditor takes away and verifies offline with nothing but python3.

    decision-log.jsonl   the export (the stored bodies, byte for byte), events 0 .. size-1 of the signed tree
    checkpoint.txt       the signed checkpoint (C2SP signed note) of that tree
    public.key           the verifier key(s); compare with the key you pinned, the bundle cannot vouch for itself
    proofs.json          a filtered export only: each event's inclusion proof against the checkpoint
    policies/<v>.yaml    every policy version's text, named by its version (the SHA-256 of the text)
    verify_export.py     the standard-library verifier (engine/log/verify_offline.py)
    manifest.json        what was asked for and what is in the zip
    README.txt           the exact commands

The export stops at the checkpoint's size, so the export, the proofs and the checkpoint describe one
and the same tree, whatever is appended while the bundle is written.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast

import msgspec
from sqlalchemy import Engine, select

from engine.errors import Conflict
from engine.log import verify_offline
from engine.log.autosign import sign_before_export
from engine.log.bundle import FORMAT, EventProof, ProofBundle
from engine.log.canonical import format_at
from engine.log.checkpoints import CheckpointService
from engine.log.export import ExportFilter, iter_rows
from engine.log.merkle import MerkleLevels
from engine.log.proofs import leaf_hashes
from engine.store.db import read_transaction
from engine.store.tables import PolicyVersion

_versions = PolicyVersion.__table__  # type: ignore[attr-defined]

VERIFY_COMMAND = "python3 verify_export.py decision-log.jsonl"


@dataclass(frozen=True, slots=True)
class BundleSummary:
    tree_size: int
    events: int
    policies: int
    command: str


def filename(flt: ExportFilter, now: datetime) -> str:
    return f"decision-evidence-{now.strftime('%Y%m%dT%H%M%SZ')}{'' if flt.is_whole_log else '-filtered'}.zip"


def _filter_view(flt: ExportFilter) -> dict[str, Any]:
    view = {"since": flt.since, "until": flt.until, "category": flt.category, "tier": flt.tier}
    return {k: (format_at(v) if isinstance(v, datetime) else v) for k, v in view.items() if v is not None}


def _rows_below(engine: Engine, flt: ExportFilter, size: int) -> Iterator[Any]:
    rows = cast(Generator[Any, None, None], iter_rows(engine, flt))
    try:
        for row in rows:
            if row.seq >= size:
                return
            yield row
    finally:
        rows.close()  # closes the streaming cursor now, not when the generator is collected


def _policy_texts(engine: Engine) -> list[tuple[str, bytes]]:
    with read_transaction(engine) as conn:
        rows = conn.execute(select(_versions.c.version, _versions.c.content).order_by(_versions.c.first_seen_at)).all()
    return [(version, content.encode("utf-8")) for version, content in rows]


def _readme(command: str, origin: str, tree_size: int, events: int, flt: ExportFilter, fingerprints: list[str]) -> str:
    what = (
        f"the whole log: events 0 to {tree_size - 1}"
        if flt.is_whole_log
        else f"{events} events matching {json.dumps(_filter_view(flt))}, out of the first {tree_size}"
    )
    how = (
        "every line is checked (canonical bytes, seq, prev, time order), the Merkle root of the\n"
        "lines is compared with the signed checkpoint's, and the checkpoint's Ed25519 signature is checked"
        if flt.is_whole_log
        else "every line is checked against its inclusion proof, which must lead to the root of\n"
        "the signed checkpoint, and the checkpoint's Ed25519 signature is checked"
    )
    return f"""Evidence bundle of the decision log {origin}
Contents: {what}, signed as a tree of {tree_size} events in checkpoint.txt.

Verify it offline, with Python 3.11 or later and nothing else installed, in this directory:

    {command}

It prints one line of JSON and one sentence, and exits 0 when everything holds, 1 otherwise:
{how}, and every file in policies/ must hash (SHA-256) to its name, the policy version
the log records.

The bundle cannot vouch for its own key: check that public.key is the key you pinned
(signing key fingerprint{"s" if len(fingerprints) > 1 else ""}: {", ".join(fingerprints)}).

Files: decision-log.jsonl (the export, byte for byte), checkpoint.txt (C2SP signed note),
public.key, {"proofs.json (inclusion proofs), " if not flt.is_whole_log else ""}policies/ (every policy version's text),
verify_export.py (the verifier, standard library only), manifest.json. The format: docs/log-format.md
in the decision-rights repository.
"""


def write_bundle(
    checkpoints: CheckpointService, flt: ExportFilter, out: IO[bytes], now: datetime, sign: bool = True
) -> BundleSummary:
    """Write the zip to `out`; signs a checkpoint first when the log has grown (unless `sign` is False)."""
    engine = checkpoints.engine
    if sign:
        sign_before_export(checkpoints)
    latest = checkpoints.latest()
    if latest is None:
        raise Conflict("no checkpoint has been signed yet: sign one (decisions log checkpoint) to build a bundle")
    size = latest.size
    filtered = not flt.is_whole_log
    levels = None
    if filtered:
        with read_transaction(engine) as conn:
            levels = MerkleLevels(leaf_hashes(conn, size))
    proofs: list[EventProof] = []
    events = 0
    policies = _policy_texts(engine)
    command = VERIFY_COMMAND + (
        " --proofs proofs.json --public-key public.key --policies policies"
        if filtered
        else " --checkpoint checkpoint.txt --public-key public.key --policies policies"
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("decision-log.jsonl", "w", force_zip64=True) as export:
            for row in _rows_below(engine, flt, size):
                export.write(row.body.encode() + b"\n")
                events += 1
                if levels is not None:
                    path = [h.hex() for h in levels.path(row.seq)]
                    proofs.append(EventProof(seq=row.seq, leaf_hash=row.leaf_hash, inclusion_path=path))
        zf.writestr("checkpoint.txt", latest.note)
        zf.writestr("public.key", "".join(k + "\n" for k in checkpoints.verifier_keys))
        if filtered:
            bundle = ProofBundle(format=FORMAT, checkpoint=latest.note, tree_size=size, proofs=proofs,
                                 after_checkpoint=[])  # fmt: skip
            zf.writestr("proofs.json", msgspec.json.encode(bundle))
        zf.writestr("policies/", b"")
        for version, text in policies:
            zf.writestr(f"policies/{version}.yaml", text)
        zf.writestr("verify_export.py", Path(verify_offline.__file__).read_bytes())
        manifest = {
            "origin": checkpoints.origin,
            "tree_size": size,
            "events": events,
            "filter": _filter_view(flt),
            "policy_versions": [v for v, _ in policies],
            "key_fingerprints": checkpoints.fingerprints,
            "created_at": format_at(now),
            "verify": command,
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        readme = _readme(command, checkpoints.origin, size, events, flt, checkpoints.fingerprints)
        zf.writestr("README.txt", readme)
    return BundleSummary(tree_size=size, events=events, policies=len(policies), command=command)
