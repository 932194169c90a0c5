"""C2SP tlog-checkpoint bodies in C2SP signed notes, signed and verified with Ed25519.

    <origin>
    <size>
    <base64 root hash>
    <blank line>
    — <key name> <base64(key id || signature)>     (one line per key)

The signature covers the body including its final newline. Signatures by keys the verifier
does not know are ignored, as the signed-note specification says; at least one known key
must have signed, and a known key whose signature does not verify is an error.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from engine.log.keys import KeyFormatError, SigningKey, VerifierKey, parse_verifier

SIGNATURE_PREFIX = "\u2014 "


class CheckpointError(ValueError):
    """A checkpoint that is malformed, unsigned by a known key, or signed wrongly."""


@dataclass(frozen=True, slots=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    signatures: tuple[NoteSignature, ...] = ()

    @property
    def body(self) -> str:
        return checkpoint_body(self.origin, self.size, self.root)


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_checkpoint(origin: str, size: int, root: bytes, keys: Sequence[SigningKey]) -> str:
    if not keys:
        raise CheckpointError("no signing key")
    body = checkpoint_body(origin, size, root)
    lines = [
        f"{SIGNATURE_PREFIX}{k.name} {base64.b64encode(k.key_id + k.sign(body.encode())).decode()}\n" for k in keys
    ]
    return body + "\n" + "".join(lines)


def parse_checkpoint(text: str) -> Checkpoint:
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise CheckpointError("not a signed note: no blank line between the body and the signatures")
    lines = body.split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint body has an origin, a size and a root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise CheckpointError("the checkpoint's origin line is empty")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError(f"the checkpoint's size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("the checkpoint's root hash is not base64") from exc
    if len(root) != 32:
        raise CheckpointError(f"the checkpoint's root hash has {len(root)} bytes, not 32")
    signatures = []
    if not sigs.endswith("\n"):
        raise CheckpointError("a signed note ends with a newline")
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(f"not a signature line: {line[:40]!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CheckpointError(f"the signature by {name} is not base64") from exc
        if len(raw) < 5:
            raise CheckpointError(f"the signature by {name} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures:
        raise CheckpointError("the note carries no signature")
    return Checkpoint(origin, int(size_text), root, tuple(signatures))


def verify_checkpoint(text: str, verifier_keys: Sequence[str | VerifierKey], origin: str | None = None) -> Checkpoint:
    checkpoint = parse_checkpoint(text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is for origin {checkpoint.origin!r}, not {origin!r}")
    keys: list[VerifierKey] = []
    for k in verifier_keys:
        try:
            keys.append(parse_verifier(k) if isinstance(k, str) else k)
        except KeyFormatError as exc:
            raise CheckpointError(f"bad public key: {exc}") from exc
    message = checkpoint.body.encode()
    verified = 0
    for sig in checkpoint.signatures:
        for key in keys:
            if key.name == sig.name and key.key_id == sig.key_id:
                try:
                    key.public.verify(sig.signature, message)
                except InvalidSignature as exc:
                    raise CheckpointError(f"the signature by {sig.name} ({sig.key_id.hex()}) does not verify") from exc
                verified += 1
    if verified == 0:
        names = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in checkpoint.signatures)
        raise CheckpointError(f"no signature by a known key (signed by: {names})")
    return checkpoint
