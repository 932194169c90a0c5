"""Ed25519 signing keys for checkpoints, in the text forms of Go's signed-note package.

A signer key is `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`; its verifier key,
the line an auditor keeps, is `<name>+<key id hex>+<base64(0x01 || public key)>`. The key
id is the first four bytes of SHA-256(name || "\\n" || 0x01 || public key). Keys live in a
file with 0600 permissions beside the service (or in DECISIONS_SIGNING_KEY), never in the
database: a database restored from backup must not be able to sign for itself.

A key file holds one signer key per line; rotation appends a line, and every checkpoint is
then signed by every key in the file until the old line is removed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

ALG_ED25519 = 0x01
KEY_FILE_NAME = "signing.key"


class KeyFormatError(ValueError):
    """A key text that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    name: str
    private: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_bytes)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


@dataclass(frozen=True, slots=True)
class VerifierKey:
    name: str
    key_id: bytes
    public: Ed25519PublicKey


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise KeyFormatError(f"a key name must be non-empty without '+' or spaces: {name!r}")
    return name


def generate(name: str) -> SigningKey:
    return SigningKey(_check_name(name), Ed25519PrivateKey.generate())


def signer_text(key: SigningKey) -> str:
    seed = key.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
    return f"PRIVATE+KEY+{key.name}+{key.key_id.hex()}+{encoded}"


def public_key_text(key: SigningKey) -> str:
    """The verifier key an auditor pins: `<name>+<key id hex>+<base64(0x01 || public key)>`."""
    encoded = base64.b64encode(bytes([ALG_ED25519]) + key.public_bytes).decode()
    return f"{key.name}+{key.key_id.hex()}+{encoded}"


def fingerprint(key: SigningKey | VerifierKey) -> str:
    """SHA256:<base64> of the raw public key, as OpenSSH prints fingerprints."""
    if isinstance(key, SigningKey):
        public = key.public_bytes
    else:
        public = key.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(public).digest()).decode().rstrip("=")


def parse_signer(text: str) -> SigningKey:
    parts = text.strip().split("+", 4)  # base64 may itself contain '+'
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise KeyFormatError("a signing key reads PRIVATE+KEY+<name>+<key id>+<base64 key>")
    name, id_hex, encoded = parts[2], parts[3], parts[4]
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise KeyFormatError("the signing key's last part is not base64") from exc
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise KeyFormatError("only Ed25519 signing keys (algorithm 1, 32-byte seed) are supported")
    key = SigningKey(_check_name(name), Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if key.key_id.hex() != id_hex.lower():
        raise KeyFormatError(f"the signing key's id {id_hex} does not match its name and key")
    return key


def parse_verifier(text: str) -> VerifierKey:
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError("a public key reads <name>+<key id hex>+<base64(0x01 || key)>")
    name, id_hex, encoded = parts
    try:
        raw = base64.b64decode(encoded, validate=True)
        expected_id = bytes.fromhex(id_hex)
    except ValueError as exc:
        raise KeyFormatError("the public key's id must be hex and its key base64") from exc
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise KeyFormatError("only Ed25519 public keys (algorithm 1, 32 bytes) are supported")
    if key_id(_check_name(name), raw[1:]) != expected_id:
        raise KeyFormatError(f"the public key's id {id_hex} does not match its name and key")
    return VerifierKey(name, expected_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


def _read_key_lines(text: str) -> list[SigningKey]:
    return [parse_signer(line) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def load_or_create(key_file: Path, name: str, env_value: str | None = None) -> list[SigningKey]:
    """The signing keys: from the environment when given, else the key file, created (0600) on first use."""
    if env_value:
        return _read_key_lines(env_value.replace("\\n", "\n"))
    if key_file.exists():
        mode = key_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise KeyFormatError(f"{key_file} is readable by others (mode {mode:o}); chmod 600 it")
        keys = _read_key_lines(key_file.read_text(encoding="utf-8"))
        if not keys:
            raise KeyFormatError(f"{key_file} holds no signing key")
        return keys
    key = generate(name)
    write_key_file(key_file, [key])
    return [key]


def write_key_file(key_file: Path, keys: list[SigningKey]) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_file.with_suffix(".tmp")
    # Created with 0600 from the start: there is no moment when the secret is world-readable.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(signer_text(k) + "\n" for k in keys))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, key_file)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk leaves no empty key file behind
        raise


def rotate(key_file: Path, name: str) -> SigningKey:
    """Add a new key: checkpoints carry both signatures until the old line is removed from the file."""
    keys = load_or_create(key_file, name)
    new = generate(name)
    write_key_file(key_file, [*keys, new])
    return new
