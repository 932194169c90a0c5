"""Auditor endpoints: export streams the stored bytes, proofs verify against independent checks."""

from __future__ import annotations

import hashlib

import pytest

from engine.log.merkle import verify_consistency, verify_inclusion
from tests.api.conftest import Api

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def _fill(api: Api, n: int) -> None:
    for i in range(n):
        api.file("mei", "pipeline", {"risk_score": i}, title=f"=SUM(A{i})" if i == 0 else f"d{i}")


def test_jsonl_export_lines_hash_to_the_stored_leaves(api: Api) -> None:
    _fill(api, 3)
    r = api.get("/v1/log/export", "ann")
    assert r.status_code == 200
    lines = r.content.splitlines()
    assert len(lines) == 4
    detail = api.get("/v1/log/proof/inclusion", "ann", params={"seq": 2}).json()
    assert hashlib.sha256(b"\x00" + lines[2]).hexdigest() == detail["leaf_hash"]


def test_csv_export_is_spreadsheet_safe(api: Api) -> None:
    _fill(api, 1)
    text = api.get("/v1/log/export", "ann", params={"format": "csv"}).text
    header, *rows = text.splitlines()
    assert header.startswith("seq,time,type,decision,actor,tier,status,prev_hash,leaf_hash,body")
    assert len(rows) == 2
    # The body column carries the title; no cell may start with a formula character.
    import csv
    import io

    for row in csv.reader(io.StringIO(text)):
        assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_filtered_export(api: Api) -> None:
    _fill(api, 2)
    api.file("ravi", "contract", {"change": "scope"})
    r = api.get("/v1/log/export", "ann", params={"tier": 3})
    assert len(r.content.splitlines()) == 1
    r = api.get("/v1/log/export", "ann", params={"category": "pipeline"})
    assert len(r.content.splitlines()) == 2


def test_inclusion_and_consistency_proofs_verify(api: Api) -> None:
    _fill(api, 6)  # 7 events with the policy activation
    for seq in range(7):
        p = api.get("/v1/log/proof/inclusion", "ann", params={"seq": seq, "size": 7}).json()
        path = [bytes.fromhex(h) for h in p["inclusion_path"]]
        assert verify_inclusion(bytes.fromhex(p["leaf_hash"]), seq, 7, path, bytes.fromhex(p["root_hash"]))
    for first in range(8):
        c = api.get("/v1/log/proof/consistency", "ann", params={"from": first, "to": 7}).json()
        assert verify_consistency(
            first,
            7,
            bytes.fromhex(c["first_root_hash"]),
            bytes.fromhex(c["second_root_hash"]),
            [bytes.fromhex(h) for h in c["consistency_path"]],
        )
    verify = api.get("/v1/log/verify", "ann").json()
    assert c["second_root_hash"] == verify["root"]
    bad = api.get("/v1/log/proof/inclusion", "ann", params={"seq": 9})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.query.seq"


def test_checkpoints_and_public_key_over_http(api: Api) -> None:
    from engine.log.checkpoint import verify_checkpoint

    api.file("mei", "reporting_format", {})
    assert api.get("/v1/log/checkpoint", "ann").status_code == 404  # none signed yet
    assert api.post("/v1/log/checkpoint", "ann").status_code == 403  # auditors are read-only
    assert api.post("/v1/log/checkpoint", "mei").status_code == 403
    created = api.post("/v1/log/checkpoint", "adm")
    assert created.status_code == 201, created.text
    body = created.json()
    keys = api.get("/v1/log/public-key", "ann").json()
    assert body["key_fingerprints"] == keys["fingerprints"] and keys["fingerprints"][0].startswith("SHA256:")
    parsed = verify_checkpoint(body["note"], keys["keys"], origin=body["origin"])
    assert parsed.size == body["size"] == api.get("/v1/log/verify", "ann").json()["size"]
    assert parsed.root.hex() == body["root_hash"] == api.get("/v1/log/verify", "ann").json()["root"]
    note = api.get("/v1/log/checkpoint?format=note", "ann")
    assert note.headers["content-type"].startswith("text/plain") and note.text == body["note"]
    text_keys = api.get("/v1/log/public-key?format=text", "ann").text
    assert text_keys.splitlines() == keys["keys"]


def test_appends_are_refused_and_health_says_why_when_the_log_is_behind_a_checkpoint(api: Api) -> None:
    api.runtime.service.append_blocked = "the database holds 3 events but checkpoint 9 was signed"
    r = api.post("/v1/decisions", "mei", {"title": "t", "category": "reporting_format", "attributes": {}})
    assert r.status_code == 503 and "checkpoint 9" in r.json()["detail"]
    health = api.client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "refusing-appends"
    assert api.get("/v1/decisions", "mei").status_code == 200  # reads go on
