#!/usr/bin/env python3
"""Verify a decision-rights log export without trusting the service (docs/log-format.md).

    python3 verify_export.py decision-log.jsonl [--checkpoint CP --public-key KEY] [--policies DIR]
    python3 verify_export.py filtered.jsonl --proofs proofs.json --public-key KEY

The standard library only, in one file: the evidence bundle ships this file as
`verify_export.py`, and an auditor runs it with any Python 3.11+ and nothing installed
(the Ed25519 signature check is RFC 8032's reference algorithm, section 6).
Checks every line: canonical JSON bytes, the body's keys, seq 0,1,2..., `prev` = the
previous line's leaf hash SHA-256(0x00 || line), times in order. Computes the RFC 6962
Merkle root; against a signed checkpoint, the first `size` lines must hash to its root,
which catches a history rewritten with every hash recomputed, and a truncated tail.
With --policies, every policy version the log activates must be there as <version>.yaml,
and every file there must hash (SHA-256) to its name.
Exit 0 when everything holds; 1 with one sentence saying what does not (2 for a usage error).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

KEYS = {"v", "log", "seq", "prev", "type", "actor", "at", "decision_id", "data"}
AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
SIGNATURE_PREFIX = "\u2014 "


class Failure(Exception):
    """A check that did not hold, or an input that cannot be read: `str()` is one sentence."""


# -- Ed25519 verification (RFC 8032 section 6, verification only; no secrets, so no timing concerns) --

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)


def _add(a: Point, b: Point) -> Point:
    x = (a[1] - a[0]) * (b[1] - b[0]) % _P
    y = (a[1] + a[0]) * (b[1] + b[0]) % _P
    c = 2 * a[3] * b[3] * _D % _P
    d = 2 * a[2] * b[2] % _P
    e, f, g, h = y - x, d - c, d + c, y + x
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _same(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    return _P - x if (x & 1) != sign else x


def _decompress(encoded: bytes) -> Point | None:
    if len(encoded) != 32:
        return None
    y = int.from_bytes(encoded, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0) or 0
_BASE: Point = (_GX, _GY, 1, _GX * _GY % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _same(_multiply(s, _BASE), _add(r, _multiply(h, a)))


# -- the Merkle tree (RFC 6962 / 9162) ------------------------------------------------------------


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(frontier: list[bytes], size: int) -> bytes:
    """frontier: roots of the perfect subtrees of [0, size), left first."""
    if size == 0:
        return hashlib.sha256(b"").digest()
    acc = frontier[-1]
    for left in reversed(frontier[:-1]):
        acc = node(left, acc)
    return acc


def push(frontier: list[bytes], size: int, leaf: bytes) -> None:
    while size & 1:
        leaf, size = node(frontier.pop(), leaf), size >> 1
    frontier.append(leaf)


def included(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
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


# -- keys and the signed checkpoint note (C2SP signed-note, tlog-checkpoint) ---------------------


def read_keys(lines: Iterable[str]) -> dict[tuple[str, bytes], bytes]:
    """Verifier keys `<name>+<key id hex>+<base64(0x01 || key)>` -> {(name, key id): raw public key}."""
    known = {}
    for line in lines:
        parts = line.split("+", 2)  # base64 may itself contain '+'
        if len(parts) != 3:
            raise Failure(f"{line[:40]!r} is not a public key (it reads <name>+<key id>+<base64 key>)")
        name, key_id, encoded = parts
        try:
            raw, wanted = base64.b64decode(encoded, validate=True), bytes.fromhex(key_id)
        except (binascii.Error, ValueError) as exc:
            raise Failure(f"the public key {name!r} is not hex and base64 where it should be") from exc
        if len(raw) != 33 or raw[0] != 1:
            raise Failure(f"the public key {name!r} is not an Ed25519 key")
        if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != wanted:
            raise Failure(f"the public key {name!r} does not match its key id {key_id}")
        known[(name, wanted)] = raw[1:]
    if not known:
        raise Failure("the public key file holds no key")
    return known


def _looks_like_a_response(text: str) -> str | None:
    """A saved HTTP error body instead of a note: say what the server said, not how the parse failed."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return "it is JSON, not a signed note"
        detail = data.get("detail") if isinstance(data, dict) else None
        return f"it is a JSON error response from the server ({detail})" if detail else "it is JSON, not a signed note"
    if stripped.lower().startswith(("<!doctype", "<html")):
        return "it is an HTML page, not a signed note"
    return None


def read_checkpoint(text: str, keys: dict[tuple[str, bytes], bytes]) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint signed by at least one known key; Failure otherwise."""
    response = _looks_like_a_response(text)
    if response:
        raise Failure(f"the checkpoint is not a signed checkpoint note: {response}")
    body, sep, sigs = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3 or not sigs.endswith("\n"):
        raise Failure("the checkpoint is not a signed note (origin, size and root hash, a blank line, signatures)")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit():
        raise Failure(f"the checkpoint's size {size_text[:40]!r} is not a number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Failure("the checkpoint's root hash is not base64") from exc
    if len(root) != 32:
        raise Failure(f"the checkpoint's root hash has {len(root)} bytes, not 32")
    good = 0
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise Failure(f"the checkpoint has a line that is not a signature: {line[:40]!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Failure(f"the checkpoint's signature by {name!r} is not base64") from exc
        public = keys.get((name, raw[:4]))
        if public is None:
            continue  # a signature by a key we do not pin proves nothing either way (signed-note spec)
        if not ed25519_verify(public, (body + "\n").encode(), raw[4:]):
            raise Failure(f"the checkpoint's signature by {name} does not verify: the note was altered")
        good += 1
    if not good:
        raise Failure("the checkpoint carries no signature by the public key given")
    return origin, int(size_text), root


# -- the export -------------------------------------------------------------------------------------


class Broken(Exception):
    pass


def check_line(line: bytes, size: int, prev: str, last_at: str, origin: str | None) -> dict[str, Any]:
    """One event; returns its parsed body or raises Broken with the reason."""
    try:
        body = json.loads(line.decode("utf-8"))
    except ValueError as exc:
        raise Broken(f"the body is not UTF-8 JSON ({exc})") from exc
    if not isinstance(body, dict) or set(body) != KEYS:
        raise Broken(f"the body must have exactly the keys {sorted(KEYS)}")
    try:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise Broken(f"the body cannot be encoded canonically ({exc})") from exc
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


def _activated(body: dict[str, Any]) -> str | None:
    data = body.get("data")
    if body.get("type") == "policy_activated" and isinstance(data, dict) and isinstance(data.get("version"), str):
        return str(data["version"])
    return None


def verify(
    lines: Iterable[bytes],
    origin: str | None = None,
    checkpoint: tuple[str, int, bytes] | None = None,
    progress: Callable[[int], None] | None = None,
    activated: set[str] | None = None,
) -> tuple[bool, int, str, int | None, str | None]:
    """Return (ok, size, root hex, first bad seq, reason); `activated` collects the policy versions activated."""
    frontier: list[bytes] = []
    prev, last_at, size, at_checkpoint = "0" * 64, "", 0, None
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if not line:
            continue
        try:
            body = check_line(line, size, prev, last_at, origin)
        except Broken as exc:
            return False, size, merkle_root(frontier, size).hex(), size, str(exc)
        origin = body["log"]
        version = _activated(body)
        if activated is not None and version:
            activated.add(version)
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


def verify_filtered(
    lines: Iterable[bytes], bundle: dict[str, Any], checkpoint: tuple[str, int, bytes]
) -> tuple[bool, int, int | None, str | None]:
    """A filtered export: every line canonical and proven in the signed tree (or listed as after it)."""
    origin, size, root = checkpoint
    try:
        proofs = {p["seq"]: p for p in bundle["proofs"]}
        after = set(bundle["after_checkpoint"])
    except (KeyError, TypeError) as exc:
        raise Failure("the proofs file is not a proof bundle (GET /v1/log/export/proofs)") from exc
    proven = 0
    for raw in lines:
        line = raw.rstrip(b"\n")
        if not line:
            continue
        try:
            body = json.loads(line)
            seq = body["seq"]
        except (ValueError, KeyError, TypeError):
            return False, proven, None, f"line {proven + 1} of the export is not an event body"
        if json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() != line:
            return False, proven, seq, "non-canonical bytes"
        if body.get("log") != origin:
            return False, proven, seq, f"the event belongs to the log {body.get('log')!r}"
        if isinstance(seq, int) and seq >= size and seq in after:
            continue
        leaf = hashlib.sha256(b"\x00" + line).digest()
        proof = proofs.get(seq)
        if not isinstance(seq, int) or proof is None or proof.get("leaf_hash") != leaf.hex():
            return False, proven, seq, "no proof for this event, or the event's bytes were changed"
        try:
            path = [bytes.fromhex(h) for h in proof["inclusion_path"]]
        except (KeyError, TypeError, ValueError):
            return False, proven, seq, "the inclusion proof is not a list of hex hashes"
        if not included(leaf, seq, size, path, root):
            return False, proven, seq, "the inclusion proof does not lead to the checkpoint's root"
        proven += 1
    return True, proven, None, None


def check_policies(directory: str, activated: set[str]) -> None:
    """Every activated version is there, and every policy file's SHA-256 is its name (the version)."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".yaml"))
    except OSError as exc:
        raise Failure(f"cannot read the policies directory {directory}: {exc.strerror}") from exc
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != name.removesuffix(".yaml"):
            raise Failure(f"the policy text {name} does not hash to its version: it was altered")
    missing = sorted(activated - {n.removesuffix(".yaml") for n in names})
    if missing:
        raise Failure(f"the log activates policy version {missing[0]} but its text is not in {directory}")


# -- the command ------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, not the usage block
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise Failure(f"cannot read the {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise Failure(f"the {what} {path} is not UTF-8 text") from exc


def _open_export(path: str) -> Any:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise Failure(f"cannot read the export {path}: {exc.strerror}") from exc


def _keys(path: str) -> dict[tuple[str, bytes], bytes]:
    return read_keys(k.strip() for k in _read_text(path, "public key file").splitlines() if k.strip())


def _run(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The JSON result and the sentence for stderr; raises Failure for anything that prevents checking."""
    if args.proofs:
        keys = _keys(args.public_key)
        try:
            bundle = json.loads(_read_text(args.proofs, "proofs file"))
            note = bundle["checkpoint"]
        except (ValueError, KeyError, TypeError) as exc:
            raise Failure(f"{args.proofs} is not a proof bundle (GET /v1/log/export/proofs)") from exc
        if not isinstance(note, str):
            raise Failure(f"{args.proofs} is not a proof bundle (GET /v1/log/export/proofs)")
        signed = read_checkpoint(note, keys)
        with _open_export(args.export) as lines:
            ok, proven, bad, reason = verify_filtered(lines, bundle, signed)
        if ok and args.policies:
            check_policies(args.policies, set())
        result = {"ok": ok, "proven": proven, "first_bad_seq": bad, "reason": reason}
        return result, (f"OK: {proven} events proven in the signed tree of {signed[1]}" if ok
                        else f"BROKEN at seq {bad}: {reason}")  # fmt: skip
    checkpoint: tuple[str, int, bytes] | None = None
    if args.checkpoint:
        checkpoint = read_checkpoint(_read_text(args.checkpoint, "checkpoint"), _keys(args.public_key))

    def progress(n: int) -> None:
        print(f"\r{n:,} events", end="", file=sys.stderr)

    activated: set[str] = set()
    with _open_export(args.export) as lines:
        ok, size, root, bad, reason = verify(lines, args.origin, checkpoint, progress, activated)
    if size >= 100000:
        print(file=sys.stderr)  # end the progress line
    if ok and args.policies:
        check_policies(args.policies, activated)
    result = {"ok": ok, "size": size, "root": root, "first_bad_seq": bad, "reason": reason}
    if not ok:
        return result, f"BROKEN at seq {bad}: {reason}" if bad is not None else f"BROKEN: {reason}"
    against = f", consistent with the signed checkpoint of {checkpoint[1]} events" if checkpoint else ""
    policies = f"; {len(activated)} policy versions' texts match" if args.policies else ""
    return result, f"OK: {size} events, root {root}{against}{policies}"


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="verify_export.py", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("export", help="a JSONL export (GET /v1/log/export or `decisions log export`)")
    parser.add_argument("--checkpoint", help="a signed checkpoint note (GET /v1/log/checkpoint?format=note)")
    parser.add_argument("--public-key", help="the verifier key(s), one per line (GET /v1/log/public-key?format=text)")
    parser.add_argument("--origin", help="the log's origin name; default: the first event's")
    parser.add_argument("--proofs", help="a proof bundle, for a filtered export (GET /v1/log/export/proofs)")
    parser.add_argument("--policies", help="a directory of policy texts named <version>.yaml (the evidence bundle's)")
    args = parser.parse_args(argv)
    if (args.proofs or args.checkpoint) and not args.public_key:
        parser.error(f"{'--proofs' if args.proofs else '--checkpoint'} needs --public-key")
    try:
        result, sentence = _run(args)
    except Failure as exc:
        result, sentence = {"ok": False, "first_bad_seq": None, "reason": str(exc)}, f"BROKEN: {exc}"
    print(json.dumps(result))
    print(sentence.rstrip(".") + ".", file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
