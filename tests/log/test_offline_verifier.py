"""The offline verifier (engine/log/verify_offline.py, run as tools/verify_export.py): its own Ed25519 check agrees
with the `cryptography` library, and every way a check can fail ends in one sentence and exit 1, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from api.app import create_app
from engine.log.verify_offline import ed25519_verify
from engine.runtime import Runtime
from engine.types import FilingRequest
from tests.support import REPO

_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_PUBLIC = _KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@settings(max_examples=60, deadline=None)
@given(message=st.binary(max_size=300), flip=st.integers(min_value=0, max_value=64 * 8 - 1))
def test_ed25519_agrees_with_the_cryptography_library(message: bytes, flip: int) -> None:
    signature = _KEY.sign(message)
    assert ed25519_verify(_PUBLIC, message, signature)
    forged = bytearray(signature)
    forged[flip // 8] ^= 1 << (flip % 8)
    assert not ed25519_verify(_PUBLIC, message, bytes(forged))
    assert not ed25519_verify(_PUBLIC, message + b"x", signature)


def test_ed25519_refuses_malformed_keys_and_signatures() -> None:
    signature = _KEY.sign(b"m")
    assert not ed25519_verify(_PUBLIC[:31], b"m", signature)
    assert not ed25519_verify(_PUBLIC, b"m", signature[:63])
    # S >= L (the group order) must be refused, not reduced: that would make signatures malleable.
    order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(signature[32:], "little") + order
    assert s < 2**256 and not ed25519_verify(_PUBLIC, b"m", signature[:32] + s.to_bytes(32, "little"))


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "tools" / "verify_export.py"), *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip


def _sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("BROKEN") and line.endswith(".")
    assert json.loads(result.stdout)["ok"] is False
    return line


@pytest.fixture
def saved(runtime: Runtime, tmp_path: Path) -> Path:
    """What the README's curl commands save on a server where no checkpoint was signed before: the checkpoint
    request answered 404 and its problem-details body landed in checkpoint.txt."""
    mei = runtime.policies.current.people["mei"]
    runtime.service.file(mei, FilingRequest(title="t", category="contract", attributes={"change": "scope"}))
    token = runtime.service.create_token("ann")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(runtime)) as client:
        missing = client.get("/v1/log/checkpoint?format=note", headers=headers)
        assert missing.status_code == 404
        (tmp_path / "checkpoint.txt").write_bytes(missing.content)
        (tmp_path / "log.jsonl").write_bytes(client.get("/v1/log/export", headers=headers).content)
        (tmp_path / "public.key").write_bytes(client.get("/v1/log/public-key?format=text", headers=headers).content)
        (tmp_path / "good-checkpoint.txt").write_bytes(
            client.get("/v1/log/checkpoint?format=note", headers=headers).content
        )
    return tmp_path


def test_a_saved_error_response_is_named_for_what_it_is(saved: Path) -> None:
    line = _sentence(_script("log.jsonl", "--checkpoint", "checkpoint.txt", "--public-key", "public.key", cwd=saved))
    assert "error response from the server" in line and "no checkpoint has been signed yet" in line
    assert "unpack" not in line


@pytest.mark.parametrize(
    ("args", "files", "expected"),
    [
        (["absent.jsonl"], {}, "cannot read the export absent.jsonl"),
        (
            ["log.jsonl", "--checkpoint", "good-checkpoint.txt", "--public-key", "nope.key"],
            {},
            "cannot read the public key file nope.key",
        ),
        (
            ["log.jsonl", "--checkpoint", "good-checkpoint.txt", "--public-key", "k"],
            {"k": "not a key\n"},
            "is not a public key",
        ),
        (["log.jsonl", "--checkpoint", "good-checkpoint.txt", "--public-key", "k"], {"k": ""}, "holds no key"),
        (["log.jsonl", "--checkpoint", "c", "--public-key", "public.key"], {"c": "<!DOCTYPE html><p>hi"}, "HTML page"),
        (["log.jsonl", "--checkpoint", "c", "--public-key", "public.key"], {"c": "a\nb\n"}, "not a signed note"),
        (["log.jsonl", "--proofs", "p", "--public-key", "public.key"], {"p": "{}"}, "is not a proof bundle"),
        (["log.jsonl", "--proofs", "p", "--public-key", "public.key"], {"p": "[1,"}, "is not a proof bundle"),
        (["bad.jsonl"], {"bad.jsonl": "{]\n"}, "at seq 0: the body is not UTF-8 JSON"),
        (["log.jsonl", "--policies", "nowhere"], {}, "cannot read the policies directory nowhere"),
    ],
)
def test_every_failure_is_one_sentence(saved: Path, args: list[str], files: dict[str, str], expected: str) -> None:
    for name, text in files.items():
        (saved / name).write_text(text)
    assert expected in _sentence(_script(*args, cwd=saved))


def test_the_saved_files_verify_once_a_checkpoint_exists(saved: Path) -> None:
    ok = _script("log.jsonl", "--checkpoint", "good-checkpoint.txt", "--public-key", "public.key", cwd=saved)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"], ok.stderr


def test_a_usage_error_is_one_line(saved: Path) -> None:
    result = _script("log.jsonl", "--checkpoint", "good-checkpoint.txt", cwd=saved)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "--checkpoint needs --public-key" in result.stderr
