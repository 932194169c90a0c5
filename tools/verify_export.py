#!/usr/bin/env python3
"""Verify a decision-rights log export without trusting the service (docs/log-format.md).

    python3 tools/verify_export.py decision-log.jsonl [--checkpoint CP --public-key KEY] [--origin NAME]

Only the standard library, plus `cryptography` for the Ed25519 checkpoint signature.
Checks every line: canonical JSON bytes, the body's keys, seq 0,1,2..., `prev` = the
previous line's leaf hash SHA-256(0x00 || line), times in order. Computes the RFC 6962
Merkle root; against a signed checkpoint, the first `size` lines must hash to its root,
which catches a history rewritten with every hash recomputed, and a truncated tail.
Exit 0 when everything holds, 1 with the first bad seq and the reason otherwise.
"""

import argparse
import base64
import hashlib
import json
import re
import sys

KEYS = {"v", "log", "seq", "prev", "type", "actor", "at", "decision_id", "data"}
AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(frontier, size):  # frontier: roots of the perfect subtrees of [0, size), left first
    if size == 0:
        return hashlib.sha256(b"").digest()
    acc = frontier[-1]
    for left in reversed(frontier[:-1]):
        acc = node(left, acc)
    return acc


def push(frontier, size, leaf):
    while size & 1:
        leaf, size = node(frontier.pop(), leaf), size >> 1
    frontier.append(leaf)


def read_checkpoint(text, key_lines):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    body, _, sigs = text.partition("\n\n")
    origin, size, root = body.split("\n")[:3]
    known = {}
    for line in key_lines:  # <name>+<key id hex>+<base64(0x01 || key)>
        name, key_id, key = line.split("+", 2)  # base64 may itself contain '+'
        raw = base64.b64decode(key)
        if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_id or raw[0] != 1:
            raise ValueError(f"public key {name} does not match its key id")
        known[(name, bytes.fromhex(key_id))] = Ed25519PublicKey.from_public_bytes(raw[1:])
    good = 0
    for line in sigs.splitlines():
        name, _, encoded = line.removeprefix("\u2014 ").partition(" ")
        raw = base64.b64decode(encoded)
        key = known.get((name, raw[:4]))
        if key is not None:
            key.verify(raw[4:], (body + "\n").encode())  # raises InvalidSignature
            good += 1
    if not good:
        raise ValueError("no signature by a known key")
    return origin, int(size), base64.b64decode(root)


class Broken(Exception):
    pass


def check_line(line, size, prev, last_at, origin):
    """One event; returns its parsed body or raises Broken with the reason."""
    try:
        body = json.loads(line.decode("utf-8"))
    except ValueError as exc:
        raise Broken(f"the body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(body, dict) or set(body) != KEYS:
        raise Broken(f"the body must have exactly the keys {sorted(KEYS)}")
    try:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise Broken(f"the body cannot be encoded canonically: {exc}") from exc
    if canonical.encode("utf-8") != line:
        raise Broken("non-canonical bytes: re-encoding the body does not give the line")
    # `type(..) is int`: true == 1 in Python, and a forged `"seq": true` must not pass for 1.
    if type(body["v"]) is not int or body["v"] != 1:
        raise Broken(f"unknown format version {json.dumps(body['v'])}")
    if origin is not None and body["log"] != origin:
        raise Broken(f"the event belongs to the log {body['log']!r}, not {origin!r}")
    if type(body["seq"]) is not int or body["seq"] != size:
        raise Broken(
            f"the body says seq {json.dumps(body['seq'])} at position {size} (events deleted, inserted or swapped)"
        )
    if body["prev"] != prev:
        raise Broken("prev is not the previous event's leaf hash")
    if not isinstance(body["at"], str) or not AT.match(body["at"]):
        raise Broken(f"at is not a canonical UTC time: {body['at']!r}")
    if body["at"] < last_at:
        raise Broken(f"at {body['at']} is earlier than the previous event's {last_at} (backdated)")
    return body


def verify(lines, origin=None, checkpoint=None, progress=None):
    """Return (ok, size, root hex, first bad seq, reason)."""
    frontier, prev, last_at, size, at_checkpoint = [], "0" * 64, "", 0, None
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if not line:
            continue
        try:
            body = check_line(line, size, prev, last_at, origin)
        except Broken as exc:
            return False, size, merkle_root(frontier, size).hex(), size, str(exc)
        origin = body["log"]
        if checkpoint and size == checkpoint[1]:
            at_checkpoint = merkle_root(frontier, size)
        leaf = hashlib.sha256(b"\x00" + line).digest()
        push(frontier, size, leaf)
        size, prev, last_at = size + 1, leaf.hex(), body["at"]
        if progress and size % 100000 == 0:
            progress(size)
    root = merkle_root(frontier, size)
    if checkpoint:
        cp_origin, cp_size, cp_root = checkpoint
        at_checkpoint = root if size == cp_size else at_checkpoint
        if origin is not None and cp_origin != origin:
            return False, size, root.hex(), None, f"the checkpoint is for origin {cp_origin!r}, not {origin!r}"
        if at_checkpoint is None:
            reason = f"the export ends at {size} events but the checkpoint signed {cp_size}: events are missing"
            return False, size, root.hex(), size, reason + " from the tail"
        if at_checkpoint != cp_root:
            reason = f"the first {cp_size} events do not hash to the checkpoint's root: the history was rewritten"
            return False, size, root.hex(), None, reason + " since it was signed"
    return True, size, root.hex(), None, None


def included(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2: does the audit path lead from the leaf to the root?"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_filtered(lines, bundle, checkpoint):
    """A filtered export: every line canonical and proven in the signed tree (or listed as after it)."""
    origin, size, root = checkpoint
    proofs = {p["seq"]: p for p in bundle["proofs"]}
    proven = 0
    for raw in lines:
        line = raw.rstrip(b"\n")
        if not line:
            continue
        body = json.loads(line)
        seq = body["seq"]
        if json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() != line:
            return False, proven, seq, "non-canonical bytes"
        if body["log"] != origin:
            return False, proven, seq, f"the event belongs to the log {body['log']!r}"
        if seq >= size and seq in bundle["after_checkpoint"]:
            continue
        leaf = hashlib.sha256(b"\x00" + line).digest()
        proof = proofs.get(seq)
        if proof is None or proof["leaf_hash"] != leaf.hex():
            return False, proven, seq, "no proof for this event, or the event's bytes were changed"
        if not included(leaf, seq, size, [bytes.fromhex(h) for h in proof["inclusion_path"]], root):
            return False, proven, seq, "the inclusion proof does not lead to the checkpoint's root"
        proven += 1
    return True, proven, None, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="a JSONL export (GET /v1/log/export or `decisions log export`)")
    parser.add_argument("--checkpoint", help="a signed checkpoint note (GET /v1/log/checkpoint?format=note)")
    parser.add_argument("--public-key", help="the verifier key(s), one per line (GET /v1/log/public-key?format=text)")
    parser.add_argument("--origin", help="the log's origin name; default: the first event's")
    parser.add_argument("--proofs", help="a proof bundle, for a filtered export (GET /v1/log/export/proofs)")
    args = parser.parse_args(argv)
    if args.proofs:
        if not args.public_key:
            parser.error("--proofs needs --public-key")
        with open(args.public_key, encoding="utf-8") as f:
            keys = [k.strip() for k in f if k.strip()]
        with open(args.proofs, encoding="utf-8") as f:
            bundle = json.load(f)
        try:
            checkpoint = read_checkpoint(bundle["checkpoint"], keys)
        except Exception as exc:  # any failure to read or verify the note is a failed check
            print(json.dumps({"ok": False, "reason": f"the checkpoint does not verify: {exc}"}))
            return 1
        with open(args.export, "rb") as lines:
            ok, proven, bad, reason = verify_filtered(lines, bundle, checkpoint)
        print(json.dumps({"ok": ok, "proven": proven, "first_bad_seq": bad, "reason": reason}))
        print(f"OK: {proven} events proven" if ok else f"BROKEN at seq {bad}: {reason}", file=sys.stderr)
        return 0 if ok else 1
    checkpoint = None
    if args.checkpoint:
        if not args.public_key:
            parser.error("--checkpoint needs --public-key")
        with open(args.public_key, encoding="utf-8") as f:
            keys = [k.strip() for k in f if k.strip()]
        try:
            with open(args.checkpoint, encoding="utf-8") as f:
                checkpoint = read_checkpoint(f.read(), keys)
        except Exception as exc:  # any failure to read or verify the note is a failed check
            reason = f"the checkpoint does not verify: {type(exc).__name__} {exc}"
            print(json.dumps({"ok": False, "size": 0, "root": None, "first_bad_seq": None, "reason": reason}))
            print(f"BROKEN: {reason}", file=sys.stderr)
            return 1

    def progress(n):
        print(f"\r{n:,} events", end="", file=sys.stderr)

    with open(args.export, "rb") as lines:
        ok, size, root, bad, reason = verify(lines, args.origin, checkpoint, progress)
    print(json.dumps({"ok": ok, "size": size, "root": root, "first_bad_seq": bad, "reason": reason}))
    if not ok:
        print(f"BROKEN at seq {bad}: {reason}", file=sys.stderr)
        return 1
    against = f", consistent with the checkpoint of {checkpoint[1]} events" if checkpoint else ""
    print(f"OK: {size} events, root {root}{against}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
